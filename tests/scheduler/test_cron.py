"""Cron schedules: validation, tick times, payloads; CronRunner over each store with a FakeClock:
catch-up, exactly one job per tick across runners, retry after a store failure, bad schedules skipped."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from scheduler.cron import CronRunner, CronSchedule
from scheduler.errors import StoreUnavailableError
from scheduler.job import JobState, SubmitResult
from tests.stores import T0

H = 3_600_000
T22 = T0 - 800_000  # 22:00:00Z, the hour T0 (22:13:20Z) is in
T23 = T22 + H
HOURLY = CronSchedule.model_validate(
    {
        "name": "hourly",
        "cron": "0 * * * *",
        "type": "noop",
        "payload": {"r": 1},
        "pass_tick": True,
        "class": "daily-active",
    }
)


def schedule(cron: str = "0 * * * *", **fields) -> CronSchedule:
    return CronSchedule(**{"name": "s", "cron": cron, "type": "noop", **fields})


@pytest.mark.parametrize(
    "cron", ["* * * *", "* * * * * *", "61 * * * *", "0 25 * * *", "* * * * 8", "every hour", "", "@hourly"]
)
def test_a_bad_cron_expression_is_refused_with_a_message(cron):
    with pytest.raises(ValidationError, match="is not a five-field cron expression such as '0 \\* \\* \\* \\*'"):
        schedule(cron)


@pytest.mark.parametrize(
    "fields", [{"name": "Bad Name"}, {"name": ""}, {"name": "x" * 65}, {"surprise": 1}, {"type": None}]
)
def test_other_bad_fields_are_refused(fields):
    with pytest.raises(ValidationError):
        schedule(**fields)


TICKS = [
    # (cron, after, until, ticks): ticks in (after, until]
    ("0 * * * *", T22 - 1, T22, [T22]),
    ("0 * * * *", T22, T22, []),
    ("0 * * * *", T22, T23, [T23]),
    ("0 * * * *", T22 - H, T23, [T22, T23]),
    ("0 * * * *", T22 + 500, T23 - 1, []),
    ("*/15 * * * *", T0 - H, T0, [T22 - 45 * 60_000, T22 - 30 * 60_000, T22 - 15 * 60_000, T22]),
    ("30 22 * * *", T22 - 24 * H, T22 + 24 * H, [T22 - 24 * H + 30 * 60_000, T22 + 30 * 60_000]),
]


@pytest.mark.parametrize(("cron", "after", "until", "expected"), TICKS)
def test_ticks(cron, after, until, expected):
    assert schedule(cron).ticks(after, until) == expected


PAYLOADS = [
    # (payload, pass_tick, payload for the tick at T22)
    ({"r": 1}, True, {"r": 1, "tick_ms": T22}),
    ({"r": 1}, False, {"r": 1}),
    ([1, 2], True, [1, 2]),  # only an object payload gets the tick
    (None, True, None),
]


@pytest.mark.parametrize(("payload", "pass_tick", "expected"), PAYLOADS)
def test_payload_for(payload, pass_tick, expected):
    assert schedule(payload=payload, pass_tick=pass_tick).payload_for(T22) == expected


def test_the_first_tick_catches_up_and_the_next_submits_only_new_ticks(scheduler, clock):
    runner = CronRunner(scheduler, [HOURLY])
    # when the runner first ticks at 22:13:20 / then the 22:00 tick of the last hour is submitted
    [first] = runner.tick()
    assert first.created
    job = scheduler.get(first.job_id)
    got = (job.type, job.tenant, job.job_class, job.level, job.key, job.payload, job.state)
    assert got == ("noop", "cron", "daily-active", 1, f"cron:hourly:{T22}", {"r": 1, "tick_ms": T22}, JobState.PENDING)
    # when it ticks again at the same time, and just before 23:00 / then nothing new
    assert runner.tick() == []
    clock.advance(2799.999)
    assert runner.tick() == []
    # when it ticks at 23:00 / then the 23:00 tick is submitted
    clock.advance(0.001)
    [second] = runner.tick()
    assert (second.created, scheduler.get(second.job_id).key) == (True, f"cron:hourly:{T23}")


def test_the_catch_up_window_bounds_the_first_tick(scheduler):
    runner = CronRunner(scheduler, [schedule("*/5 * * * *", name="five")], catch_up_s=600)
    keys = [scheduler.get(result.job_id).key for result in runner.tick()]
    assert keys == [f"cron:five:{T22 + 5 * 60_000}", f"cron:five:{T22 + 10 * 60_000}"]


def test_two_runners_on_one_backend_create_one_job_per_tick(make_scheduler, store_factory, store, clock):
    # given two runners whose schedulers use different store objects on the same backend
    first = make_scheduler()
    runner_a = CronRunner(first, [HOURLY])
    runner_b = CronRunner(make_scheduler(on=store_factory(same_as=store)), [HOURLY])
    # when both tick in the same hour / then the second gets the first's job back
    [a] = runner_a.tick()
    assert a.created
    assert runner_b.tick() == [SubmitResult(a.job_id, False)]
    assert store.stats().pending == {(1, "noop"): 1}
    # when the job has run and a fresh runner ticks the same hour / then the held key still returns it
    assert first.ack(first.lease()) == [True]
    late = CronRunner(make_scheduler(on=store_factory(same_as=store)), [HOURLY])
    assert late.tick() == [SubmitResult(a.job_id, False)]
    assert (store.stats().pending, first.get(a.job_id).state) == ({}, JobState.DONE)
    # when both tick at the next hour / then there is one new job
    clock.advance(2800)
    [next_a] = runner_a.tick()
    assert next_a.created and next_a.job_id != a.job_id
    assert runner_b.tick() == [SubmitResult(next_a.job_id, False)]
    assert store.stats().pending == {(1, "noop"): 1}


class FlakyStore:
    """A real store whose submit calls numbered in `failing` (from 1) raise StoreUnavailableError."""

    def __init__(self, store, failing: set[int]) -> None:
        self._store = store
        self.failing = failing
        self.submits = 0

    def submit(self, jobs, now_ms):
        self.submits += 1
        if self.submits in self.failing:
            raise StoreUnavailableError(f"submit #{self.submits} failed (injected)")
        return self._store.submit(jobs, now_ms)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_a_tick_missed_while_the_store_was_down_is_submitted_on_the_next_call(make_scheduler, store, clock):
    # given a runner whose store fails its first and third submit
    flaky = FlakyStore(store, failing={1, 3})
    scheduler = make_scheduler(on=flaky)
    runner = CronRunner(scheduler, [HOURLY])
    steps = [
        # (advance s, store fails, tick whose job exists afterwards)
        (0, True, None),  # 22:13:20, catch-up of 22:00 fails
        (60, False, T22),  # 22:14:20: 22:00 again
        (2770, True, None),  # 23:00:30: 23:00 fails
        (300, False, T23),  # 23:05:30: 23:00 again
    ]
    for advance_s, fails, tick in steps:
        clock.advance(advance_s)
        if fails:
            with pytest.raises(StoreUnavailableError):
                runner.tick()
        else:
            [result] = runner.tick()
            assert (result.created, scheduler.get(result.job_id).key) == (True, f"cron:hourly:{tick}")
    assert (flaky.submits, store.stats().pending) == (4, {(1, "noop"): 2})


def test_a_schedule_that_cannot_submit_does_not_stop_the_others(scheduler, caplog):
    # given a schedule of an unregistered type and one that never fires (31 February) before a good one
    gone = schedule(name="gone", type="retired")
    # (validation refuses a never-firing expression; build it unvalidated, as an older config file could have)
    never = HOURLY.model_copy(update={"name": "never", "cron": "0 0 31 2 *"})
    runner = CronRunner(scheduler, [gone, never, HOURLY])
    # when the runner ticks / then the good schedule is submitted and the others are logged
    with caplog.at_level(logging.ERROR, logger="scheduler.cron"):
        [result] = runner.tick()
    assert scheduler.get(result.job_id).key == f"cron:hourly:{T22}"
    logged = [record.getMessage() for record in caplog.records]
    assert [message.split(":")[0] for message in logged] == [
        "cron schedule gone cannot submit",
        "cron schedule never cannot submit",
    ]
    assert "'retired' is not a registered job type" in logged[0]


def test_an_expression_that_never_fires_is_refused_when_the_schedule_is_read():
    # given 31 February / when the schedule is validated / then it is refused, saying it never fires
    with pytest.raises(ValidationError, match="never fires"):
        schedule("0 0 31 2 *", name="never")
