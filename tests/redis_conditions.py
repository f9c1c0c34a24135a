"""Put a private redis-server (bench.private_redis) into the states in which it refuses commands for a while:
BUSY (a long Lua script), OOM (full under noeviction), READONLY and MASTERDOWN (a replica), LOADING (a restart
that loads a large RDB slowly). Each waits for the state it makes, never for a fixed time."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis

from bench.busy_redis import BUSY_REPLY_MS, BUSY_SCRIPT, WAIT_LIMIT_S  # the fault suite's own busy script
from bench.private_redis import RedisServer


def wait_for(condition: Callable[[], bool], what: str, limit_s: float = WAIT_LIMIT_S, every_s: float = 0.02) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit_s:.0f} s")
        time.sleep(every_s)


class BusyScript:
    """A Lua script that keeps `server` busy, run from a connection of its own until `kill()`."""

    def __init__(self, server: RedisServer) -> None:
        self.server = server
        self.reply: object = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BusyScript:
        client = self.server.client()
        try:
            client.config_set("busy-reply-threshold", BUSY_REPLY_MS)
        finally:
            client.close()
        self._thread.start()
        wait_for(self._busy, "the script holds Redis (PING answered BUSY)")
        return self

    def _busy(self) -> bool:
        client = self.server.client()
        try:
            client.ping()
        except redis.ResponseError as err:
            return str(err).startswith("BUSY")
        finally:
            client.close()
        return False

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def _run(self) -> None:
        client = self.server.client(socket_timeout=WAIT_LIMIT_S * 3)
        try:
            self.reply = client.eval(BUSY_SCRIPT, 0)
        except redis.ResponseError as err:
            self.reply = err  # "Script killed by user with SCRIPT KILL..."
        finally:
            client.close()

    def kill(self) -> None:
        """SCRIPT KILL until it takes (the script may not have started yet), then wait for its reply."""
        if not self._thread.is_alive():
            return
        client = self.server.client()

        def killed() -> bool:
            with contextlib.suppress(redis.ResponseError):  # NOTBUSY: not running yet, or already ended
                client.script_kill()
            self._thread.join(0.05)
            return not self._thread.is_alive()

        try:
            wait_for(killed, "SCRIPT KILL ended the busy script")
        finally:
            client.close()


def fill_until_oom(server: RedisServer, headroom_bytes: int = 512 * 1024) -> int:
    """Set maxmemory a little above what the server uses, then write filler keys until it refuses one with
    OOM; returns how many fit. The filler lives under `filler:`, apart from any store's namespace. Then
    maxmemory drops below what is used, so that buffers freed later cannot let a write slip in."""
    client = server.client()
    try:
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", used + headroom_bytes)
        value = os.urandom(4096)
        for n in range(100_000):
            try:
                client.set(f"filler:{n}", value)
            except redis.exceptions.OutOfMemoryError:
                client.config_set("maxmemory", used)
                return n
        raise AssertionError("the server never refused a write with OOM")
    finally:
        client.close()


def replica_of(primary: RedisServer, replica: RedisServer, **config: Any) -> None:
    """Make `replica` a replica of `primary` (after setting `config` on it) and wait for the link."""
    with contextlib.closing(primary.client()) as to_primary:  # sync at once, not after 5 s for more replicas
        to_primary.config_set("repl-diskless-sync-delay", 0)
    client = replica.client(decode_responses=True)
    try:
        for name, value in config.items():
            client.config_set(name.replace("_", "-"), value)
        client.replicaof("127.0.0.1", primary.port)
        wait_for(lambda: client.info("replication")["master_link_status"] == "up", "the replica's link to its primary")
    finally:
        client.close()


def link_down(replica: RedisServer) -> bool:
    client = replica.client(decode_responses=True)
    try:
        return bool(client.info("replication")["master_link_status"] == "down")
    finally:
        client.close()


@contextlib.contextmanager
def slowly_loading(server: RedisServer, keys: int, key_load_delay_us: int) -> Iterator[None]:
    """Save `server`'s data with `keys` random 8 KB values to its RDB, stop it and start it again on the same
    port and folder with `key-load-delay` (a Redis test setting), so loading takes about keys x delay. Yields
    once it accepts connections (while it loads); stops it on exit."""
    client = server.client()
    try:
        pipe = client.pipeline(transaction=False)
        for n in range(keys):
            pipe.set(f"ballast:{n}", os.urandom(8192))  # random: LZF cannot shrink the file, so loading takes time
        pipe.execute()
        client.save()
    finally:
        client.close()
    server.stop()
    command = [*server.command(), "--key-load-delay", str(key_load_delay_us)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _accepts(server.port), "the restarted redis-server accepts connections", every_s=0.005)
        yield
    finally:
        process.kill()
        process.wait()


def _accepts(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
