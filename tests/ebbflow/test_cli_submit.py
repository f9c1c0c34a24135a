"""`ebbflow submit`: the happy path, idempotency, and every refusal as one `error:` line with nothing stored."""

from __future__ import annotations

import json

import pytest

from scheduler.job import JobState
from tests.ebbflow.conftest import pending_total


def test_submit_prints_the_id_and_stores_the_job(cli, configured_store):
    result = cli.ok(
        "submit",
        "sleep",
        "--tenant",
        "acme",
        "--class",
        "new-signup",
        "--payload",
        '{"seconds": 0.5}',
        "--deadline",
        "30s",
        "--max-attempts",
        "2",
    )
    job_id, outcome = result.stdout.split(maxsplit=1)
    assert outcome.strip() == "created"
    job = configured_store().get(job_id)
    assert job is not None and job.state is JobState.PENDING
    assert (job.type, job.tenant, job.job_class, job.level, job.max_attempts) == ("sleep", "acme", "new-signup", 0, 2)
    assert job.payload == {"seconds": 0.5}
    assert job.deadline_ms is not None and 29_000 <= job.deadline_ms - job.created_ms <= 30_000


def test_a_repeated_key_returns_the_existing_job(cli):
    first = cli.ok("submit", "noop", "--tenant", "t", "--key", "k-1").stdout.split()[0]
    again = cli.ok("submit", "noop", "--tenant", "t", "--key", "k-1").stdout
    assert again.split()[0] == first
    assert "already existed" in again


def test_payload_from_a_file(cli, configured_store, workdir):
    (workdir / "p.json").write_text(json.dumps({"seconds": 1}))
    job_id = cli.ok("submit", "sleep", "--tenant", "t", "--payload", "@p.json").stdout.split()[0]
    assert configured_store().get(job_id).payload == {"seconds": 1}


def big_payload(workdir):
    (workdir / "big.json").write_text(json.dumps({"blob": "x" * 70_000}))
    return "@big.json"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["submit", "nope", "--tenant", "t"], "type: 'nope' is not a registered job type"),
        (["submit", "noop", "--tenant", "t", "--class", "vip"], "class: 'vip' is not a configured class"),
        (["submit", "noop", "--tenant", "t", "--payload", "{bad"], "payload: is not valid JSON"),
        (["submit", "noop", "--tenant", "t", "--payload", "NaN"], "payload: is not valid JSON"),
        (["submit", "noop", "--tenant", "t", "--payload", "BIG"], "payload: is 70011 bytes of JSON"),
        (["submit", "noop", "--tenant", "t", "--payload", "@missing.json"], "payload: cannot read 'missing.json'"),
        (["submit", "sleep", "--tenant", "t", "--payload", '{"seconds": -1}'], "payload['seconds']: -1 is less than"),
        (["submit", "sleep", "--tenant", "t"], "payload: None is not of type 'object'"),
        (["submit", "noop", "--tenant", "no spaces"], "tenant: 'no spaces' must be"),
        (["submit", "noop", "--tenant", "t", "--key", ""], "key: must be a non-empty string"),
        (["jobs", "show", "missing-id"], "no job with id 'missing-id'"),
        (["dlq", "show", "missing-id"], "no job with id 'missing-id'"),
    ],
)
def test_bad_input_is_one_error_line_and_stores_nothing(cli, configured_store, workdir, args, field):
    args = [big_payload(workdir) if arg == "BIG" else arg for arg in args]
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {field}")
    assert "no jobs pending or running" in cli.ok("status").stdout
    assert pending_total(configured_store()) == 0


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["submit", "noop", "--tenant", "t", "--deadline", "soon"], "'--deadline'"),
        (["submit", "noop", "--tenant", "t", "--deadline", "-5s"], "'--deadline'"),
        (["submit", "noop", "--tenant", "t", "--max-attempts", "0"], "'--max-attempts'"),
        (["submit", "noop"], "'--tenant'"),
        (["history", "--window", "1y"], "'--window'"),
    ],
)
def test_bad_options_name_the_option(cli, configured_store, args, option):
    result = cli(*args)
    assert result.exit_code == 2
    assert option in result.stderr
    assert pending_total(configured_store()) == 0


def test_a_bad_config_value_is_one_error_line(cli, monkeypatch):
    monkeypatch.setenv("EBBFLOW_SCHEDULER__LEASE_TTL_S", "0")
    result = cli("status")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: config: scheduler.lease_ttl_s: Input should be greater than 0 (from EBBFLOW_SCHEDULER__LEASE_TTL_S)"
    ]


def test_a_missing_config_file_is_an_error(cli):
    result = cli("--config", "absent.toml", "status")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: config: absent.toml: no such file")


def test_the_config_file_and_env_pick_the_store_path(cli, workdir, monkeypatch):
    # given a config file naming one database and the env naming another, then the env's is used
    (workdir / "ebbflow.toml").write_text('[sqlite]\npath = "from-file.db"\n')
    monkeypatch.setenv("EBBFLOW_SQLITE__PATH", "from-env.db")
    cli.ok("submit", "noop", "--tenant", "t")
    assert (workdir / "from-env.db").exists()
    assert not (workdir / "from-file.db").exists()
    # when the env override goes away, then the file's path is used
    monkeypatch.delenv("EBBFLOW_SQLITE__PATH")
    cli.ok("submit", "noop", "--tenant", "t")
    assert (workdir / "from-file.db").exists()


def test_the_default_sqlite_file_is_created_under_dot_ebbflow(cli, workdir, monkeypatch):
    monkeypatch.delenv("EBBFLOW_SQLITE__PATH")
    cli.ok("submit", "noop", "--tenant", "t")
    assert (workdir / ".ebbflow" / "queue.db").exists()
