"""The CLI on the Redis store (a fresh namespace per test, purged afterwards), and an unreachable Redis."""

from __future__ import annotations

import pytest

from tests.ebbflow.conftest import pending_total


def test_submit_and_status_on_redis(cli, redis_env, configured_store):
    args = ("submit", "noop", "--tenant", "a", "--class", "weekly-active", "--key", "once")
    job_id = cli.ok(*args).stdout.split()[0]
    assert "already existed" in cli.ok(*args).stdout
    out = cli.ok("status").stdout
    assert ["│", "weekly", "│", "noop", "│", "1", "│", "0", "│"] in [line.split() for line in out.splitlines()]
    store = configured_store()
    assert store.get(job_id).level == 2
    assert pending_total(store) == 1


def test_work_and_history_on_redis(cli, redis_env):
    cli.ok("submit", "sleep", "--tenant", "a", "--payload", '{"seconds": 0}')
    assert "leased 1: done 1" in cli.ok("work", "--idle-exit").stdout
    assert "│ sleep" in cli.ok("history").stdout


def test_a_refused_submit_stores_nothing_on_redis(cli, redis_env, configured_store):
    result = cli("submit", "noop", "--tenant", "a", "--class", "vip")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: class: 'vip' is not a configured class")
    assert pending_total(configured_store()) == 0


@pytest.mark.parametrize("args", [["status"], ["submit", "noop", "--tenant", "a"]])
def test_unreachable_redis_is_one_error_line(cli, monkeypatch, args):
    monkeypatch.setenv("EBBFLOW_STORE", "redis")
    monkeypatch.setenv("EBBFLOW_REDIS__URL", "redis://127.0.0.1:1/0")
    result = cli(*args)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: Redis at 127.0.0.1:1 is unreachable")
    assert line.endswith("start redis-server or set EBBFLOW_STORE=sqlite")


def test_a_bad_redis_url_is_a_config_error(cli, monkeypatch):
    monkeypatch.setenv("EBBFLOW_REDIS__URL", "http://127.0.0.1:6379")
    result = cli("status")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: config: redis.url: must start with one of redis://, rediss://, unix:// (TLS: rediss://) "
        "(from EBBFLOW_REDIS__URL)"
    ]
