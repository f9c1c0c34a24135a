"""A long Lua script holding a redis-server, as a slow `EVAL` from another application would: while it runs,
every other client gets BUSY (after `busy-reply-threshold`), until SCRIPT KILL ends it. The fault suite's
"redis-busy" fault (bench/fault_suite.py); tests/redis_conditions.py has the same for the contract tests."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import redis

from bench.private_redis import RedisServer

# Busy until killed (it never writes, so SCRIPT KILL can end it), 60 s at most should the killer fail.
BUSY_SCRIPT = (
    "local stop = tonumber(redis.call('TIME')[1]) + 60 "
    "while tonumber(redis.call('TIME')[1]) < stop do end "
    "return 'not killed'"
)
BUSY_REPLY_MS = 100  # busy-reply-threshold: after this, other clients get BUSY instead of waiting
WAIT_LIMIT_S = 30.0


def set_busy_reply_threshold(server: RedisServer, milliseconds: int = BUSY_REPLY_MS) -> None:
    with contextlib.closing(server.client()) as client:
        client.config_set("busy-reply-threshold", milliseconds)


@contextlib.contextmanager
def busy_script(server: RedisServer) -> Iterator[None]:
    """The script runs (PING answers BUSY) inside the block; SCRIPT KILL ends it on the way out."""
    set_busy_reply_threshold(server)
    thread = threading.Thread(target=_run, args=(server,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: _busy(server), "the script holds Redis (PING answered BUSY)")
        yield
    finally:
        _kill(server, thread)


def _run(server: RedisServer) -> None:
    client = server.client(socket_timeout=WAIT_LIMIT_S * 3)
    with contextlib.closing(client), contextlib.suppress(redis.ResponseError):  # "Script killed by ... SCRIPT KILL"
        client.eval(BUSY_SCRIPT, 0)


def _busy(server: RedisServer) -> bool:
    with contextlib.closing(server.client(socket_timeout=5)) as client:
        try:
            client.ping()
        except redis.ResponseError as err:
            return str(err).startswith("BUSY")
    return False


def _kill(server: RedisServer, thread: threading.Thread) -> None:
    """SCRIPT KILL until it takes (NOTBUSY while the script has not started yet), then its connection closes."""
    with contextlib.closing(server.client(socket_timeout=5)) as client:

        def killed() -> bool:
            with contextlib.suppress(redis.ResponseError):
                client.script_kill()
            thread.join(0.05)
            return not thread.is_alive()

        wait_for(killed, "SCRIPT KILL ended the busy script")


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` every 20 ms until it holds; TimeoutError after WAIT_LIMIT_S."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {WAIT_LIMIT_S:.0f} s")
        time.sleep(0.02)
