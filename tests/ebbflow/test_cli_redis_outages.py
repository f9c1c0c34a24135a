"""The CLI on a Redis that refuses commands for a while: one error line that names the condition and what to
do, as for an unreachable Redis (a service manager restarts `ebbflow work`; the head waits it out itself)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bench.private_redis import RedisServer, redis_server
from tests.ebbflow.conftest import Cli
from tests.redis_conditions import BusyScript


@pytest.fixture
def busy_redis(workdir: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    with redis_server() as server:
        monkeypatch.setenv("EBBFLOW_STORE", "redis")
        monkeypatch.setenv("EBBFLOW_REDIS__URL", server.url)
        monkeypatch.setenv("EBBFLOW_REDIS__NAMESPACE", f"t-{uuid.uuid4().hex}")
        yield server


@pytest.mark.parametrize("args", [["submit", "noop", "--tenant", "a"], ["work", "--idle-exit"]])
def test_a_busy_redis_is_one_error_line_naming_busy(cli: Cli, busy_redis: RedisServer, args: list[str]) -> None:
    with BusyScript(busy_redis):
        result = cli(*args)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: Redis at 127.0.0.1:{busy_redis.port} refused the command (BUSY: Redis is busy")
    assert line.endswith("it ends by itself, or run SCRIPT KILL (SHUTDOWN NOSAVE if it has written)")
