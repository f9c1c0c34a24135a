"""A replica promoted under the clients, and the old primary demoted, without moving the clients' URL: the
fault suite's "redis-replica" fault (bench/fault_suite.py).

A replica of `server` is started and synced; writes on `server` are paused (CLIENT PAUSE WRITE) until the
replica has every byte of them; the replica is promoted (REPLICAOF NO ONE) and `server` made its replica. For
as long as the block runs, `server` answers every write (every script of ours that writes) with READONLY, as
the old primary does after a failover that its clients have not followed. On the way out `server` is promoted
again, with what the replica held, and the replica stopped. No acknowledged write is lost: the pause keeps any
from landing on `server` after the replica's copy was taken.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from bench.busy_redis import wait_for
from bench.private_redis import RedisServer

PAUSE_MS = 10_000  # the longest the writes may stay paused should this process die meanwhile


@contextlib.contextmanager
def demoted(server: RedisServer, folder: Path) -> Iterator[None]:
    replica = RedisServer(folder)
    replica.start()
    try:
        with (
            contextlib.closing(server.client(decode_responses=True)) as old,
            contextlib.closing(replica.client(decode_responses=True)) as new,
        ):
            old.config_set("repl-diskless-sync-delay", 0)  # sync at once, not after waiting for more replicas
            new.replicaof("127.0.0.1", server.port)
            wait_for(lambda: _link_up(new), "the replica's link to the primary")
            old.client_pause(PAUSE_MS, all=False)  # WRITE: reads go on, writes wait
            try:
                offset = int(old.info("replication")["master_repl_offset"])
                wait_for(lambda: int(new.info("replication")["master_repl_offset"]) >= offset, "the replica in sync")
                new.replicaof("NO", "ONE")
                old.replicaof("127.0.0.1", replica.port)
            finally:
                old.client_unpause()
            wait_for(lambda: _link_up(old), "the old primary's link to the promoted replica")
            try:
                yield
            finally:
                old.replicaof("NO", "ONE")
    finally:
        replica.stop()


def _link_up(client: redis.Redis) -> bool:
    replication: dict[str, Any] = client.info("replication")
    return replication.get("master_link_status") == "up"
