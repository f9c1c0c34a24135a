"""LocalWorker on a SQLite store: ack, retry, dead-letter, checkpoints, stopping rules, giving work back."""

from __future__ import annotations

from typing import Any

import pytest

from ebbflow.local_worker import STOP_REASON, JobContext, LocalWorker
from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.clock import FakeClock
from scheduler.config import SchedulerConfig
from scheduler.job import JobState, JSONValue
from scheduler.queue import Scheduler
from scheduler.registry import JobType, JobTypeRegistry
from scheduler.sqlite_store import SQLiteStore
from tests.stores import written_around_submit


def fail_until_checkpointed(payload: JSONValue, context: JobContext) -> JSONValue:
    # first run saves progress and fails; the retry sees the checkpoint and finishes
    if context.checkpoint is None:
        context.save_checkpoint({"done_up_to": 3})
        raise RuntimeError("flaky")
    return context.checkpoint


def always_fail(payload: JSONValue, context: Any) -> JSONValue:
    raise ValueError("bad input")


class Interrupt:
    """A run function that raises KeyboardInterrupt on its n-th call, as Ctrl-C would."""

    def __init__(self, at: int) -> None:
        self.calls, self.at = 0, at

    def __call__(self, payload: JSONValue, context: Any) -> JSONValue:
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return None


@pytest.fixture
def scheduler(tmp_path):
    registry = JobTypeRegistry(
        [
            *BUILTIN_TYPES,
            JobType(name="flaky", run=fail_until_checkpointed),
            JobType(name="broken", run=always_fail),
            JobType(name="norun"),
        ]
    )
    config = SchedulerConfig(backoff_base_s=1, backoff_max_s=1)
    store = SQLiteStore(tmp_path / "w.db", levels=len(config.levels))
    # A clock that moves only when told: retries come due exactly when a test says so.
    yield Scheduler(store, config, registry=registry, clock=FakeClock())
    store.close()


def test_jobs_run_and_are_acked_in_serve_order(scheduler):
    low = scheduler.submit("noop", tenant="a", job_class="batch").job_id
    high = scheduler.submit("sleep", {"seconds": 0.001}, tenant="a", job_class="new-signup").job_id
    counts = LocalWorker(scheduler, idle_exit=True).run()
    assert (counts.leased, counts.done) == (2, 2)
    assert [r.job_id for r in counts.records] == [high, low]
    assert [r.level for r in counts.records] == [0, 3]
    assert all(r.wait_ms >= 0 and r.run_ms >= 0 for r in counts.records)
    assert scheduler.get(low).state is JobState.DONE


def test_a_failure_is_retried_from_its_checkpoint(scheduler):
    job_id = scheduler.submit("flaky", tenant="a").job_id
    first = LocalWorker(scheduler, idle_exit=True).run()
    assert (first.retried, first.done) == (1, 0)
    job = scheduler.get(job_id)
    assert job.checkpoint == {"done_up_to": 3}
    assert "RuntimeError: flaky" in job.error
    # when the backoff has passed, then the retry resumes and finishes
    scheduler.clock.advance(1)
    counts = LocalWorker(scheduler, idle_exit=True).run()
    assert counts.done == 1
    assert scheduler.get(job_id).state is JobState.DONE


def test_the_last_attempt_dead_letters_the_job(scheduler):
    job_id = scheduler.submit("broken", tenant="a", max_attempts=1).job_id
    counts = LocalWorker(scheduler, idle_exit=True).run()
    assert counts.dead == 1
    (dead,) = scheduler.dead_letters()
    assert dead.id == job_id and "ValueError: bad input" in dead.error


def test_a_type_without_run_goes_to_the_dead_letters_at_once(scheduler):
    job_id = scheduler.submit("norun", tenant="a").job_id
    assert LocalWorker(scheduler, idle_exit=True).run().dead == 1
    assert "cannot run here: not registered, or no run function" in scheduler.get(job_id).error


def test_max_jobs_limits_what_is_leased(scheduler):
    for _ in range(7):
        scheduler.submit("noop", tenant="a")
    counts = LocalWorker(scheduler, batch=5, max_jobs=6).run()
    assert (counts.leased, counts.done) == (6, 6)
    assert sum(scheduler.store.stats().pending.values()) == 1


def test_without_idle_exit_an_empty_queue_is_polled(scheduler):
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 2:
            scheduler.submit("noop", tenant="a")

    counts = LocalWorker(scheduler, max_jobs=1, poll_s=0.25, sleep=sleep).run()
    assert polls == [0.25, 0.25]
    assert counts.done == 1


def test_ctrl_c_releases_the_unfinished_batch(scheduler):
    scheduler.registry.register(JobType(name="hang", run=Interrupt(at=2)))
    ids = [scheduler.submit("hang", tenant="a").job_id for _ in range(3)]
    counts = LocalWorker(scheduler, batch=3).run()
    assert counts.interrupted
    assert (counts.done, counts.released) == (1, 2)
    states = [scheduler.get(job_id) for job_id in ids]
    assert [job.state for job in states] == [JobState.DONE, JobState.PENDING, JobState.PENDING]
    assert [job.preemptions for job in states[1:]] == [1, 1]
    assert STOP_REASON == "worker stopped"


def test_maintain_runs_every_few_seconds(scheduler):
    # given a clock that only moves when a job runs (2 s per job) and a maintain that records when it ran
    now = [0.0]
    calls: list[float] = []
    real_maintain = scheduler.maintain

    def maintain():
        calls.append(now[0])
        return real_maintain()

    def two_seconds(payload: JSONValue, context: Any) -> JSONValue:
        now[0] += 2.0
        return None

    scheduler.maintain = maintain
    scheduler.registry.register(JobType(name="two-s", run=two_seconds))
    for _ in range(4):
        scheduler.submit("two-s", tenant="a")
    # when the worker runs them one at a time with maintenance every 5 s
    LocalWorker(scheduler, batch=1, idle_exit=True, maintain_every_s=5, clock=lambda: now[0]).run()
    # then it maintained at the start and once the next 5 s had passed
    assert calls == [0.0, 6.0]


def test_queue_entries_written_around_submit_run_nothing_and_say_why(scheduler):
    # given entries naming code that is not a registered type, and a registered type with a payload its schema
    # refuses
    named_code = written_around_submit(scheduler, "os:system", '"rm -rf /"')
    bad_payload = written_around_submit(scheduler, "sleep", '{"seconds": "forever"}')
    fine = scheduler.submit("noop", tenant="a").job_id
    # when a worker drains the queue
    counts = LocalWorker(scheduler, idle_exit=True).run()
    # then both are dead at once (no attempt is worth retrying), with the reason, and the good job ran
    assert counts.dead == 2 and counts.done == 1 and scheduler.get(fine).state is JobState.DONE
    named = scheduler.get(named_code)
    assert named.state is JobState.DEAD and named.attempts == 1
    assert "'os:system' cannot run here: not registered" in (named.error or "")
    refused = scheduler.get(bad_payload)
    assert refused.state is JobState.DEAD and "fails its type's schema" in (refused.error or "")
    assert "payload['seconds']" in (refused.error or "")
