"""The read and maintenance commands against the SQLite store: status, jobs, history, moves, maintain, dlq, cron."""

from __future__ import annotations

import time

import pytest

from ebbflow import load_settings, open_store
from ebbflow.local_worker import LocalWorker
from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.job import JSONValue
from scheduler.queue import Scheduler
from scheduler.registry import JobType, JobTypeRegistry
from tests.ebbflow.conftest import pending_total
from tests.stores import StoreSpec, close_store, open_spec, overwrite_stored


def submit(cli, *args: str) -> str:
    return cli.ok("submit", *args).stdout.split()[0]


def test_status_counts_per_level_and_type(cli):
    submit(cli, "noop", "--tenant", "a", "--class", "new-signup")
    submit(cli, "noop", "--tenant", "b", "--class", "new-signup")
    submit(cli, "sleep", "--tenant", "a", "--payload", '{"seconds": 0}')
    out = cli.ok("status").stdout
    assert "Jobs by level and type" in out
    rows = [line.split() for line in out.splitlines()]
    assert ["│", "urgent", "│", "noop", "│", "2", "│", "0", "│"] in rows
    assert ["│", "background", "│", "sleep", "│", "1", "│", "0", "│"] in rows
    assert ["│", "total", "│", "3", "│", "0", "│", "│"] in rows
    assert "delayed (waiting to retry): 0" in out
    assert "dead letters: 0" in out


def test_jobs_show_prints_every_field(cli, configured_store):
    job_id = submit(
        cli, "sleep", "--tenant", "acme", "--class", "daily-active", "--payload", '{"seconds": 2}', "--key", "k"
    )
    # given the job is running, so lease details exist
    store = configured_store()
    (lease,) = store.lease(1, "w-1", ttl_ms=60_000, now_ms=int(time.time() * 1000))
    store.save_progress(lease.ref, '{"done": 40, "total": 500, "note": "page 4"}')
    out = cli.ok("jobs", "show", job_id).stdout
    for text in (
        "state",
        "running",
        "daily",
        "acme",
        "daily-active",
        "0 of 5",
        "preemptions",
        "token",
        "w-1",
        '"seconds": 2',
        "lease expires",
        "checkpoint",
        "progress",
        '"done": 40',
        '"note": "page 4"',
    ):
        assert text in out
    assert out.count("Z ") >= 4  # created, enqueued, deadline, leased: ISO UTC times
    assert lease.job.id == job_id


def test_work_runs_jobs_and_history_reports_them(cli):
    for tenant in ("a", "b", "c"):
        submit(cli, "sleep", "--tenant", tenant, "--payload", '{"seconds": 0.001}')
    submit(cli, "noop", "--tenant", "a", "--class", "new-signup")
    out = cli.ok("work", "--idle-exit", "--batch", "2", "--worker", "w-test").stdout
    assert "leased 4: done 4" in out
    history = cli.ok("history", "--window", "10m").stdout
    assert "History over the last 10m 00s" in history
    rows = [line.split("│") for line in history.splitlines() if line.startswith("│")]
    cells = {(r[1].strip(), r[2].strip()): [c.strip() for c in r[3:]] for r in rows}
    assert cells[("sleep", "background")][:2] == ["3", "3"]
    assert cells[("noop", "urgent")][:2] == ["1", "1"]
    assert "no jobs pending or running" in cli.ok("status").stdout


def test_work_stops_after_max_jobs(cli, configured_store):
    for _ in range(5):
        submit(cli, "noop", "--tenant", "a")
    assert "leased 3: done 3" in cli.ok("work", "--max-jobs", "3").stdout
    assert pending_total(configured_store()) == 2


def test_history_with_nothing_run(cli):
    assert "no jobs leased in the last 1h 00m" in cli.ok("history").stdout


@pytest.fixture
def fast_aging(workdir):
    (workdir / "ebbflow.toml").write_text(
        '[scheduler]\nlevels = [{name = "top"}, {name = "low", max_wait_s = 0.001}]\n'
        '[scheduler.classes]\nbatch = {level = "low"}\n'
    )


def test_maintain_applies_aging_and_deadline_promotion_and_moves_lists_them(cli, fast_aging):
    aged = submit(cli, "noop", "--tenant", "a")
    due = submit(cli, "sleep", "--tenant", "b", "--payload", '{"seconds": 0}', "--deadline", "0.5")
    time.sleep(0.02)
    out = cli.ok("maintain").stdout
    assert "2 job moves planned; 2 jobs moved" in out
    assert aged in out and due in out
    moves = cli.ok("moves", "--limit", "5").stdout
    reasons = {line.split("│")[2].strip(): line.split("│")[6].strip() for line in moves.splitlines() if "│ low" in line}
    assert reasons[aged].startswith("aging: waited")
    assert reasons[due].startswith("deadline: slack")


def test_maintain_demotes_a_tenant_over_its_allotment(cli, workdir):
    (workdir / "ebbflow.toml").write_text(
        '[scheduler]\nlevels = [{name = "top", allotment_s = 0.001}, {name = "bottom"}]\n'
        '[scheduler.classes]\nbatch = {level = "top"}\n'
    )
    submit(cli, "sleep", "--tenant", "greedy", "--payload", '{"seconds": 0.01}')
    cli.ok("work", "--max-jobs", "1")
    submit(cli, "noop", "--tenant", "greedy")
    out = cli.ok("maintain").stdout
    assert "1 tenant demotions" in out and "greedy" in out and "Demotions" in out
    moves = cli.ok("moves").stdout
    assert "tenant-wide, 1 jobs" in moves and "bottom" in moves


def test_maintain_with_nothing_to_do(cli):
    assert "reaped 0 expired leases; 0 tenant demotions; 0 job moves planned; 0 jobs moved" in cli.ok("maintain").stdout
    assert "no level changes recorded" in cli.ok("moves").stdout


def boom(payload: JSONValue, context: object) -> JSONValue:
    raise RuntimeError(f"boom {payload}")


def scheduler_with_boom() -> Scheduler:
    settings = load_settings()
    registry = JobTypeRegistry([*BUILTIN_TYPES, JobType(name="boom", run=boom)])
    return Scheduler(open_store(settings), settings.scheduler, registry=registry)


@pytest.fixture
def dead_ids(workdir):
    """Two jobs that failed their only attempt and sit in the dead-letter queue."""
    scheduler = scheduler_with_boom()
    try:
        ids = [scheduler.submit("boom", n, tenant="t", max_attempts=1).job_id for n in (1, 2)]
        counts = LocalWorker(scheduler, idle_exit=True).run()
        assert counts.dead == 2
    finally:
        scheduler.store.close()
    return ids


def test_dlq_list_show_and_retry(cli, dead_ids):
    listing = cli.ok("dlq", "list").stdout
    assert all(job_id in listing for job_id in dead_ids)
    assert "RuntimeError: boom" in listing
    shown = cli.ok("dlq", "show", dead_ids[0]).stdout
    assert "Traceback" in shown and "dead" in shown and "1 of 1" in shown
    retried = cli.ok("dlq", "retry", dead_ids[0], "no-such-id").stdout
    assert retried.strip() == "queued again: 1 of 2 (the rest were not dead)"
    out = cli.ok("status").stdout
    assert "dead letters: 1" in out


def test_dlq_retry_all(cli, dead_ids, configured_store):
    assert cli.ok("dlq", "retry", "--all").stdout.strip() == "queued again: 2 of 2"
    assert pending_total(configured_store()) == 2
    assert "no dead letters" in cli.ok("dlq", "list").stdout


@pytest.mark.parametrize("args", [["dlq", "retry"], ["dlq", "retry", "x", "--all"]])
def test_dlq_retry_needs_ids_or_all(cli, args):
    result = cli(*args)
    assert result.exit_code == 2
    assert "give job ids or --all" in result.stderr


CRON = """
[[cron]]
name = "hourly"
cron = "0 * * * *"
type = "noop"
class = "daily-active"

[[cron]]
name = "minutely"
cron = "* * * * *"
type = "sleep"
payload = {seconds = 0}
"""


def test_cron_list_and_tick(cli, workdir, configured_store):
    (workdir / "ebbflow.toml").write_text(CRON)
    listing = cli.ok("cron", "list").stdout
    assert "hourly" in listing and "minutely" in listing and "0 * * * *" in listing and ":00:00.000Z" in listing
    first = cli.ok("cron", "tick").stdout
    # the last hour holds one hourly tick and 60 minute ticks
    assert first.count("│ hourly ") == 1 and first.count("│ minutely ") == 60
    assert "already submitted" not in first
    again = cli.ok("cron", "tick").stdout
    assert again.count("already submitted") >= 61 - again.count("│ submitted")
    assert pending_total(configured_store()) in (61, 62)  # a new minute may have started in between


def test_cron_without_schedules(cli):
    assert "no cron schedules configured" in cli.ok("cron", "list").stdout
    assert "no ticks came due" in cli.ok("cron", "tick").stdout


def test_the_builtin_fail_type_goes_through_retries_to_the_dead_letter_queue(cli, monkeypatch):
    # given retries 10-20 ms apart and a `fail` job with two attempts, submitted from the command line
    monkeypatch.setenv("EBBFLOW_SCHEDULER__BACKOFF_BASE_S", "0.01")
    monkeypatch.setenv("EBBFLOW_SCHEDULER__BACKOFF_MAX_S", "0.02")
    job_id = cli.ok(
        "submit", "fail", "--tenant", "t", "--payload", '{"message": "upstream said no"}', "--max-attempts", "2"
    ).stdout.split()[0]
    # when a worker runs it / then the first failure waits for its retry, with its error
    cli.ok("work", "--idle-exit")
    shown = cli.ok("jobs", "show", job_id).stdout
    assert "delayed" in shown and "DeliberateFailure: upstream said no" in shown
    # when the backoff has passed and a worker runs it again / then it is a dead letter, and can be retried
    time.sleep(0.05)
    cli.ok("work", "--idle-exit")
    assert job_id in cli.ok("dlq", "list").stdout
    assert cli.ok("dlq", "retry", job_id).stdout.strip() == "queued again: 1 of 1"


@pytest.mark.parametrize("store_kind", ["sqlite", "redis"])
def test_a_corrupt_stored_record_is_dead_lettered_by_work_and_shown_by_every_view(cli, workdir, store_kind, request):
    # given three queued jobs, the middle one's record overwritten behind ebbflow's back
    if store_kind == "redis":
        spec = StoreSpec("redis", namespace=request.getfixturevalue("redis_env"))
    else:
        spec = StoreSpec("sqlite", path=str(workdir / "queue.db"))
    ids = [submit(cli, "noop", "--tenant", "a").strip() for _ in range(3)]
    store = open_spec(spec)
    try:
        overwrite_stored(store, ids[1], "record", '{"id": "cut sho')
    finally:
        close_store(store)
    # when a worker runs until the queue is empty
    out = cli.ok("work", "--idle-exit").stdout
    # then it ran the other two, and the views show the bad one dead with the reason instead of failing
    assert "leased 2: done 2" in out
    assert "dead letters: 1" in cli.ok("status").stdout
    listing = cli.ok("dlq", "list").stdout
    assert ids[1] in listing and "unreadable" in listing
    for view in (["dlq", "show", ids[1]], ["jobs", "show", ids[1]]):
        shown = cli.ok(*view).stdout
        assert "dead" in shown and "cannot block the queue" in shown, shown
    # and retrying it leaves it dead: queued again, it would only be dead-lettered again
    assert cli.ok("dlq", "retry", ids[1]).stdout.strip() == "queued again: 0 of 1 (the rest were not dead)"
