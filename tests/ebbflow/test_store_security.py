"""Redis AUTH and TLS for the queue (`redis.*`) and the packs' rankings (`packs.rankings`), MySQL TLS for the
index (`packs.index`), on private servers this test starts (the shared ones must not be given a password or
TLS), and a planted secret that no output shows: the CLI's status, work, dead-letter and history views, and its
errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bench.private_redis import RedisServer, redis_server
from bench.tls_certs import TlsFiles, make_tls_files
from ebbflow.config import RedisSettings, Settings
from ebbflow.stores import StoreSource, open_store
from scheduler.errors import ConfigError, StoreUnavailableError
from tests.ebbflow.conftest import Cli
from tests.mariadb_server import DATABASE, USER, mariadb_available, mariadb_server
from workloads.index import VideoRecord, open_index
from workloads.rankings import open_rankings
from workloads.resources import Resources
from workloads.settings import PacksSettings

SECRET = f"planted-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def locked_redis() -> Iterator[RedisServer]:
    with redis_server(password=SECRET) as server:
        yield server


def redis_settings(server: RedisServer, **fields: object) -> Settings:
    return Settings(store="redis", redis=RedisSettings(url=server.url, **fields))  # type: ignore[arg-type]


def test_the_queue_authenticates_and_says_which_setting_is_missing(locked_redis: RedisServer) -> None:
    # without the password, or with a wrong one: an error naming the setting to fix, and not the password
    for password in (None, "wrong"):
        with pytest.raises(StoreUnavailableError, match=r"redis\.password \(EBBFLOW_REDIS__PASSWORD\)") as err:
            open_store(redis_settings(locked_redis, password=password))
        assert SECRET not in str(err.value)
    # with it: the queue works
    store = open_store(redis_settings(locked_redis, password=SECRET))
    try:
        assert store.stats().settled
    finally:
        store.close()


def test_a_worker_gets_the_password_with_the_store_settings(locked_redis: RedisServer) -> None:
    settings = redis_settings(locked_redis, password=SECRET)
    source = StoreSource.from_settings(settings)
    assert SECRET not in repr(source)
    scheduler = source.open_scheduler()
    try:
        assert scheduler.store.stats().settled
    finally:
        scheduler.store.close()


def test_the_queue_speaks_tls_verified_against_the_configured_ca(tls: TlsFiles, tmp_path: Path) -> None:
    with redis_server(password=SECRET, tls=tls, tls_auth_clients=True) as server:
        assert server.url.startswith("rediss://")
        # with the CA and a client certificate (the server asks for one): the queue works
        settings = redis_settings(
            server,
            password=SECRET,
            tls_ca_file=str(tls.ca),
            tls_cert_file=str(tls.client_cert),
            tls_key_file=str(tls.client_key),
        )
        store = open_store(settings)
        try:
            assert store.stats().settled
        finally:
            store.close()
        # against another CA the server's certificate is refused, and the error says where to look
        other = make_tls_files(tmp_path)
        with pytest.raises(StoreUnavailableError, match=r"redis\.tls_ca_file"):
            open_store(redis_settings(server, password=SECRET, tls_ca_file=str(other.ca)))
        # plain redis:// to a TLS port fails cleanly too
        plain = RedisSettings(url=server.url.replace("rediss://", "redis://"), password=SECRET)  # type: ignore[arg-type]
        with pytest.raises(StoreUnavailableError):
            open_store(Settings(store="redis", redis=plain))


def test_tls_settings_are_checked_when_the_config_loads(tls: TlsFiles, tmp_path: Path) -> None:
    def problem(**fields: object) -> str:
        with pytest.raises(ValueError) as err:
            RedisSettings(**fields)  # type: ignore[arg-type]
        return str(err.value)

    assert "does not start with rediss://" in problem(url="redis://127.0.0.1:6379/0", tls_ca_file=str(tls.ca))
    assert "not a file" in problem(url="rediss://127.0.0.1:6380/0", tls_ca_file=str(tmp_path / "missing.pem"))
    assert "go together" in problem(url="rediss://127.0.0.1:6380/0", tls_cert_file=str(tls.client_cert))
    # a mistyped URL is named, not quoted: an old config may carry a password in it
    message = problem(url=f"rediss//:{SECRET}@127.0.0.1:6380/0")
    assert "rediss://" in message and SECRET not in message


def test_the_rankings_speak_tls_with_a_password_in_the_url(tls: TlsFiles) -> None:
    with redis_server(password=SECRET, tls=tls) as server:
        url = f"rediss://:{SECRET}@127.0.0.1:{server.port}/0?prefix=t:&tls_ca_file={tls.ca}"
        rankings = open_rankings(url)
        try:
            rankings.replace("hot:1:2026-12-07T10", {"v1": 2.0, "v2": 1.0})
            assert rankings.top("hot:1:2026-12-07T10", 10) == [("v1", 2.0), ("v2", 1.0)]
        finally:
            rankings.close()
        for bad, expected in [
            (url.replace("rediss://", "redis://"), "needs a rediss:// URL"),
            (url + "&tls_cert_file=/nowhere.pem", "not a file"),
            (url + "&ssl_ca_certs=x", "unknown rediss URL parameter 'ssl_ca_certs'"),
        ]:
            with pytest.raises(ValueError, match=expected) as err:
                open_rankings(bad)
            assert SECRET not in str(err.value)


def test_no_output_shows_a_planted_secret(locked_redis: RedisServer, cli: Cli, monkeypatch: pytest.MonkeyPatch):
    # given a queue behind a password, and the same secret as the X token and the index's MySQL password
    monkeypatch.setenv("EBBFLOW_STORE", "redis")
    monkeypatch.setenv("EBBFLOW_REDIS__URL", locked_redis.url)
    monkeypatch.setenv("EBBFLOW_REDIS__NAMESPACE", f"t-{uuid.uuid4().hex}")
    monkeypatch.setenv("EBBFLOW_PACKS__X__BEARER_TOKEN", SECRET)
    monkeypatch.setenv("EBBFLOW_PACKS__INDEX", f"mysql://ebbflow:{SECRET}@127.0.0.1:3306/test")
    outputs: list[str] = []
    # when the password is missing, the CLI says so
    refused = cli("status")
    assert refused.exit_code != 0 and "redis.password" in refused.output
    outputs.append(refused.output)
    # and with it, a job fails into the dead letters and every view of it is printed
    monkeypatch.setenv("EBBFLOW_REDIS__PASSWORD", SECRET)
    payload = json.dumps({"message": "a job that fails"})
    job_id = cli.ok("submit", "fail", "--tenant", "t", "--payload", payload, "--max-attempts", "1").output.split()[0]
    for args in [("work", "--idle-exit"), ("status",), ("dlq", "list"), ("dlq", "show", job_id), ("history",)]:
        outputs.append(cli.ok(*args).output)
    assert job_id in outputs[-2] and "a job that fails" in outputs[-2]  # the views did show the job
    # then the secret is in none of them
    for output in outputs:
        assert SECRET not in output


def test_a_config_error_does_not_quote_a_secret(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EBBFLOW_STORE", "redis")
    monkeypatch.setenv("EBBFLOW_REDIS__URL", f"redis//:{SECRET}@127.0.0.1:6379/0")
    result = cli("status")
    assert result.exit_code != 0 and "redis.url" in result.output
    assert SECRET not in result.output
    with pytest.raises(ConfigError):
        from ebbflow import load_settings

        load_settings()


@pytest.mark.skipif(not mariadb_available(), reason="needs mariadb-install-db and mariadbd")
def test_the_index_speaks_tls_to_mysql_verified_against_the_configured_ca(tls: TlsFiles, tmp_path: Path) -> None:
    with mariadb_server(tls, SECRET) as port:
        base = f"mysql://{USER}:{SECRET}@127.0.0.1:{port}/{DATABASE}"
        # with the CA (and a client certificate): the index migrates and works over TLS
        index = open_index(f"{base}?tls_ca_file={tls.ca}&tls_cert_file={tls.client_cert}&tls_key_file={tls.client_key}")
        try:
            index.upsert_videos([VideoRecord("dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ")])
            assert index.count() == 1
        finally:
            index.close()
        # against another CA the server's certificate is refused, and the error does not show the password
        other = make_tls_files(tmp_path)
        resources = Resources(PacksSettings(index=SecretStr(f"{base}?tls_ca_file={other.ca}")))
        with pytest.raises(
            StoreUnavailableError, match=r"packs\.index: cannot open it .*CERTIFICATE_VERIFY_FAILED"
        ) as err:
            resources.index  # noqa: B018 (opening it is the test)
        assert SECRET not in str(err.value)
    for bad, expected in [
        (f"{base}?tls_cert_file={tls.client_cert}&tls_key_file={tls.client_key}", "needs tls_ca_file"),
        (f"{base}?tls_ca_file={tmp_path / 'none.pem'}", "not a file"),
        (f"{base}?sslmode=require", "unknown mysql URL parameter 'sslmode'"),
    ]:
        with pytest.raises(ValueError, match=expected) as err:
            open_index(bad)
        assert SECRET not in str(err.value)
