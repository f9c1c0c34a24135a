"""Opening the Redis store refuses a server that would lose jobs (a maxmemory-policy other than noeviction) or
is too old for the scripts, with one line naming the setting and the fix; a server that hides CONFIG still
tells its policy through INFO, and one that hides both opens with a warning. Each test has a private
redis-server (bench.private_redis), since the shared one must stay noeviction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from bench.private_redis import RedisServer, redis_server
from ebbflow.config import RedisSettings, Settings
from ebbflow.stores import open_store
from scheduler.errors import ConfigError
from scheduler.redis_requirements import policy_problem, version_problem
from tests.ebbflow.conftest import Cli

ADDRESS = "127.0.0.1:6379"
EVICTS = (
    "has maxmemory-policy allkeys-lru; ebbflow needs noeviction (an evicted key loses jobs): set "
    "`maxmemory-policy noeviction` in redis.conf or `CONFIG SET maxmemory-policy noeviction`"
)


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with redis_server() as started:
        yield started


def settings_for(server: RedisServer, **redis: str) -> Settings:
    options = RedisSettings(url=server.url, namespace=f"t-{uuid.uuid4().hex}", **redis)  # type: ignore[arg-type]
    return Settings(store="redis", redis=options)


def with_policy(server: RedisServer, policy: str) -> RedisServer:
    client = server.client()
    try:
        client.config_set("maxmemory-policy", policy)
    finally:
        client.close()
    return server


def test_a_redis_that_evicts_keys_is_refused_at_open_with_the_setting_and_the_fix(server: RedisServer) -> None:
    with pytest.raises(ConfigError) as refused:
        open_store(settings_for(with_policy(server, "allkeys-lru")))
    assert str(refused.value) == f"Redis at 127.0.0.1:{server.port} {EVICTS}"


def test_the_cli_prints_the_refusal_as_one_line(cli: Cli, server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EBBFLOW_STORE", "redis")
    monkeypatch.setenv("EBBFLOW_REDIS__URL", with_policy(server, "allkeys-lru").url)
    result = cli("status")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: Redis at 127.0.0.1:{server.port} {EVICTS}"]


def test_without_config_the_policy_comes_from_info(server: RedisServer) -> None:
    # given a user that may not run CONFIG, as on managed Redis services
    admin = with_policy(server, "volatile-lru").client()
    admin.acl_setuser("app", enabled=True, passwords=["+secret"], keys=["*"], commands=["+@all", "-config"])
    admin.close()
    with pytest.raises(ConfigError, match="has maxmemory-policy volatile-lru; ebbflow needs noeviction"):
        open_store(settings_for(server, username="app", password="secret"))


def test_a_redis_that_tells_neither_opens_with_a_warning(server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    admin = with_policy(server, "allkeys-lru").client()  # unseen: the store cannot ask
    admin.acl_setuser("app", enabled=True, passwords=["+secret"], keys=["*"], commands=["+@all", "-config", "-info"])
    admin.close()
    with caplog.at_level(logging.WARNING, logger="scheduler.redis_requirements"):
        store = open_store(settings_for(server, username="app", password="secret"))
    store.close()
    assert f"Redis at 127.0.0.1:{server.port} does not tell its maxmemory-policy and version" in caplog.text
    assert "make sure it runs Redis >= 6.2.0 with maxmemory-policy noeviction" in caplog.text


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ("noeviction", None),
        (None, None),  # unknown: warned about, not refused
        ("allkeys-lru", f"Redis at {ADDRESS} {EVICTS}"),
    ],
)
def test_the_policy_check(policy: str | None, problem: str | None) -> None:
    assert policy_problem(ADDRESS, policy) == problem


@pytest.mark.parametrize(
    ("version", "too_old"),
    [
        ("7.0.15", False),
        ("6.2.0", False),
        ("6.2", False),
        ("10.0.1", False),
        ("6.2.0-rc1", False),
        ("6.1.99", True),
        ("6.0.16", True),
        ("5.0.7", True),
    ],
)
def test_the_version_check(version: str, too_old: bool) -> None:
    problem = version_problem(ADDRESS, version)
    expected = (
        f"Redis at {ADDRESS} is version {version}; ebbflow needs 6.2.0 or newer (its scripts use LPOP with a "
        "count and ZMSCORE): upgrade redis-server"
    )
    assert problem == (expected if too_old else None)
