"""The Scheduler over each store (sqlite, redis) with a FakeClock: retries and dead letters, preemption,
checkpoints, heartbeats and lease expiry, and what maintain() applies (demotion, aging, deadlines)."""

from __future__ import annotations

import pytest

from scheduler.config import DEFAULT_CLASSES, ClassConfig, SchedulerConfig
from scheduler.errors import JobNotFoundError, PayloadError, StaleLeaseError
from scheduler.history import bucket_bounds, bucket_of
from scheduler.ids import new_job_id
from scheduler.job import JobState
from scheduler.policy import PlannedDemotion, PlannedMove
from scheduler.store import ArrivalBucket, Demotion, Move
from tests.stores import T0

S = 1000
# "top" puts jobs on level 0 without a deadline, so deadline promotion stays out of the demotion test
NO_DEADLINE_TOP = SchedulerConfig(classes={**DEFAULT_CLASSES, "top": ClassConfig(level="urgent")})


def state_of(scheduler, job_id):
    job = scheduler.get(job_id)
    return job.state, job.level, job.attempts, job.preemptions, job.error


def test_a_failed_job_waits_out_its_backoff_then_runs_again(make_scheduler, clock):
    # given a job whose first two runs fail, with backoff base 2 s
    scheduler = make_scheduler(SchedulerConfig(backoff_base_s=2))
    job_id = scheduler.submit("noop", tenant="acme").job_id
    [lease] = scheduler.lease()
    # when it fails / then it is delayed with the error kept, for 1..2 s (ceiling 2 s at attempt 1)
    assert scheduler.fail(lease, "boom") is JobState.DELAYED
    assert state_of(scheduler, job_id) == (JobState.DELAYED, 3, 1, 0, "boom")
    clock.advance(0.999)
    assert scheduler.lease() == []
    assert scheduler.get(job_id).state is JobState.DELAYED
    clock.advance(1.002)
    [again] = scheduler.lease()
    assert (again.job.id, again.job.attempts) == (job_id, 1)
    # when it fails again / then the ceiling has doubled: 2..4 s
    failed_at = clock.now_ms()
    assert scheduler.fail(again, "boom 2") is JobState.DELAYED
    clock.advance(1.999)
    assert scheduler.lease() == []
    clock.advance(2.002)
    [third] = scheduler.lease()
    assert (third.job.id, third.job.attempts, third.leased_ms - failed_at) == (job_id, 2, 4001)


def test_the_last_attempt_goes_to_the_dead_letters_keeping_the_error(scheduler, clock):
    # given a flaky job (2 attempts) that already failed once
    job_id = scheduler.submit("flaky", tenant="acme").job_id
    scheduler.fail(scheduler.lease()[0], "first")
    clock.advance(60)
    [lease] = scheduler.lease()
    # when its second run fails / then it is dead, not delayed
    assert scheduler.fail(lease, "second") is JobState.DEAD
    assert state_of(scheduler, job_id) == (JobState.DEAD, 3, 2, 0, "second")
    assert [job.id for job in scheduler.dead_letters()] == [job_id]
    assert (scheduler.store.stats().dead, scheduler.lease()) == (1, [])


def test_a_non_retryable_failure_is_dead_at_once(scheduler):
    job_id = scheduler.submit("noop", tenant="acme", max_attempts=9).job_id
    assert scheduler.fail(scheduler.lease()[0], "bad input", retryable=False) is JobState.DEAD
    assert state_of(scheduler, job_id) == (JobState.DEAD, 3, 1, 0, "bad input")
    assert [job.id for job in scheduler.dead_letters()] == [job_id]


def test_release_requeues_at_once_until_the_preemption_bound(make_scheduler):
    # given a scheduler allowing two preemptions
    scheduler = make_scheduler(SchedulerConfig(max_preemptions=2))
    job_id = scheduler.submit("noop", tenant="acme").job_id
    # when the job is released twice / then it is pending again each time, attempts untouched
    for preemptions in (1, 2):
        assert scheduler.release(scheduler.lease()[0], "spot reclaimed") is JobState.PENDING
        assert state_of(scheduler, job_id) == (JobState.PENDING, 3, 0, preemptions, None)
    # when released a third time / then it is dead with a reason naming the bound
    assert scheduler.release(scheduler.lease()[0], "spot reclaimed") is JobState.DEAD
    reason = "spot reclaimed: released 3 times (bound 2)"
    assert state_of(scheduler, job_id) == (JobState.DEAD, 3, 0, 3, reason)
    assert [job.id for job in scheduler.dead_letters()] == [job_id]


def test_a_checkpoint_survives_a_release_and_is_size_limited(make_scheduler):
    scheduler = make_scheduler(SchedulerConfig(max_checkpoint_bytes=20))
    job_id = scheduler.submit("noop", tenant="acme").job_id
    [lease] = scheduler.lease()
    # when a checkpoint over the limit is saved / then it is refused and nothing is kept
    with pytest.raises(PayloadError) as refused:
        scheduler.save_checkpoint(lease, {"rows": "x" * 20})
    assert refused.value.field == "checkpoint"
    assert scheduler.get(job_id).checkpoint is None
    # when one within the limit is saved and the job released / then the next lease gets it back
    scheduler.save_checkpoint(lease, {"row": 1234})
    scheduler.release(lease)
    [again] = scheduler.lease()
    assert (again.job.id, again.job.checkpoint) == (job_id, {"row": 1234})


def test_give_back_never_counts_so_it_never_dead_letters(make_scheduler):
    # given a scheduler allowing no preemption at all
    scheduler = make_scheduler(SchedulerConfig(max_preemptions=0))
    job_id = scheduler.submit("noop", tenant="acme").job_id
    # when the job is given back many times / then it is pending at once each time, nothing counted
    for _ in range(5):
        assert scheduler.give_back(scheduler.lease()[0], "type at its cap") is JobState.PENDING
        assert state_of(scheduler, job_id) == (JobState.PENDING, 3, 0, 0, None)
    # while a release, which counts a preemption, dead-letters it at once
    assert scheduler.release(scheduler.lease()[0], "spot reclaimed") is JobState.DEAD
    assert state_of(scheduler, job_id)[:4] == (JobState.DEAD, 3, 0, 1)


def test_give_back_with_a_delay_waits_then_serves_the_job_in_its_old_place(scheduler, clock):
    # given a tenant's running job and a newer job of that tenant
    job_id = scheduler.submit("noop", tenant="acme").job_id
    [lease] = scheduler.lease()
    clock.advance(1)
    newer_id = scheduler.submit("noop", tenant="acme").job_id
    # when the running job is given back for 2.5 s
    assert scheduler.give_back(lease, "draining", delay_s=2.5) is JobState.DELAYED
    # then it is delayed, nothing counted, until exactly 2.5 s later
    assert state_of(scheduler, job_id) == (JobState.DELAYED, 3, 0, 0, None)
    assert [got.job.id for got in scheduler.lease(5)] == [newer_id]
    clock.advance(2.499)
    assert scheduler.lease() == []
    clock.advance(0.001)
    [again] = scheduler.lease()
    assert (again.job.id, again.job.attempts, again.job.preemptions, again.job.enqueued_ms) == (job_id, 0, 0, T0)


def test_give_back_without_a_delay_is_pending_at_once_and_a_stale_lease_is_refused(scheduler, clock):
    job_id = scheduler.submit("noop", tenant="acme").job_id
    [lease] = scheduler.lease()
    assert scheduler.give_back(lease, "deferred", delay_s=0) is JobState.PENDING
    [again] = scheduler.lease()
    assert again.job.id == job_id
    # the first lease no longer holds the job: giving it back again is refused and changes nothing
    with pytest.raises(StaleLeaseError):
        scheduler.give_back(lease, "deferred", delay_s=5)
    assert scheduler.get(job_id).state is JobState.RUNNING
    assert scheduler.ack([again]) == [True]


def test_progress_is_saved_size_limited_and_shown_after_the_job_ends(make_scheduler):
    scheduler = make_scheduler(SchedulerConfig(max_checkpoint_bytes=40))
    job_id = scheduler.submit("noop", tenant="acme").job_id
    [lease] = scheduler.lease()
    # when a report over the limit, or one that is not JSON, is saved / then it is refused, nothing kept
    with pytest.raises(PayloadError) as refused:
        scheduler.save_progress(lease, {"note": "x" * 40})
    assert refused.value.field == "progress"
    with pytest.raises(PayloadError):
        scheduler.save_progress(lease, {"done": float("nan")})
    assert scheduler.get(job_id).progress is None
    # when reports within the limit are saved and the job is acked / then the last one is kept
    scheduler.save_progress(lease, {"done": 40, "total": 500})
    scheduler.save_progress(lease, {"done": 500, "total": 500, "note": "ok"})
    assert scheduler.ack([lease]) == [True]
    job = scheduler.get(job_id)
    assert (job.state, job.progress, job.checkpoint) == (JobState.DONE, {"done": 500, "total": 500, "note": "ok"}, None)
    # and a report through the finished lease is refused
    with pytest.raises(StaleLeaseError):
        scheduler.save_progress(lease, {"done": 501})


def test_heartbeats_keep_a_lease_alive_and_maintain_reaps_it_once_they_stop(scheduler, clock):
    # given a leased job (ttl 30 s) heartbeated at 20 s and 40 s
    job_id = scheduler.submit("noop", tenant="acme").job_id
    [lease] = scheduler.lease()
    for _ in range(2):
        clock.advance(20)
        assert scheduler.heartbeat([lease]) == [True]
    # when maintain runs at 45 s, past the original expiry / then nothing is reaped
    clock.advance(5)
    report = scheduler.maintain()
    assert report.reaped == 0
    job = scheduler.get(job_id)
    assert (job.state, job.lease.expires_ms) == (JobState.RUNNING, T0 + 70 * S)
    # when the heartbeats stop and the extended lease runs out / then maintain re-queues it as a failed attempt
    clock.advance(25)
    assert scheduler.maintain().reaped == 1
    job = scheduler.get(job_id)
    assert (job.state, job.level, job.attempts, job.error.startswith("lease expired")) == (JobState.PENDING, 3, 1, True)
    assert scheduler.heartbeat([lease]) == [False]
    assert [again.job.id for again in scheduler.lease()] == [job_id]


def test_maintain_demotes_a_tenant_over_its_allotment(make_scheduler, store, clock):
    # given tenant hog that ran 301 s at level 0 (allotment 300 s per 600 s), and pending jobs of hog and calm there
    scheduler = make_scheduler(NO_DEADLINE_TOP)
    scheduler.submit("noop", tenant="hog", job_class="top")
    [lease] = scheduler.lease()
    clock.advance(301)
    assert scheduler.ack([lease]) == [True]
    hog = scheduler.submit("noop", tenant="hog", job_class="top").job_id
    calm = scheduler.submit("noop", tenant="calm", job_class="top").job_id
    now = clock.now_ms()
    # when maintain runs
    report = scheduler.maintain()
    # then hog is demoted from level 0 to 1 for the window, taking its pending job along
    reason = "tenant used 301 run-s at urgent in the last 600 s; allotment 300 s"
    assert report.plan.demotions == (PlannedDemotion("hog", 0, 1, now + 600 * S, reason),)
    assert (report.plan.moves, report.moved) == ((), 1)
    assert store.demotions(now) == [Demotion("hog", 0, 1, now + 600 * S)]
    assert store.moves() == [Move(now, None, "hog", 0, 1, reason, 1)]
    assert (scheduler.get(hog).level, scheduler.get(calm).level) == (1, 0)
    # and its new submissions to level 0 land on level 1, while other tenants still get level 0
    assert scheduler.get(scheduler.submit("noop", tenant="hog", job_class="top").job_id).level == 1
    assert scheduler.get(scheduler.submit("noop", tenant="calm", job_class="top").job_id).level == 0
    # and a second maintain does not demote it again
    assert scheduler.maintain().plan.demotions == ()


def test_maintain_ages_an_old_background_job_one_level_per_max_wait(scheduler, clock):
    # given a batch job on the background level (3)
    job_id = scheduler.submit("noop", tenant="acme").job_id
    steps = [
        # (advance s, level after maintain, planned moves)
        (6 * 3600, 3, ()),  # exactly the 6 h max wait: not yet
        (1, 2, (PlannedMove(job_id, 3, 2, "aging: waited 21,601 s > 21,600 s allowed by background"),)),
        (0, 2, ()),  # one level per maintain, not all at once
        (3599, 2, ()),  # 7 h on weekly (6 h + 1 h): not yet
        (1, 1, (PlannedMove(job_id, 2, 1, "aging: waited 25,201 s > 25,200 s allowed by weekly"),)),
        (900, 0, (PlannedMove(job_id, 1, 0, "aging: waited 26,101 s > 26,100 s allowed by daily"),)),
        (10**6, 0, ()),  # level 0 never ages
    ]
    for advance_s, level, moves in steps:
        # when the clock moves on and maintain runs / then the job is on the expected level
        clock.advance(advance_s)
        report = scheduler.maintain()
        assert (report.plan.moves, scheduler.get(job_id).level) == (moves, level), advance_s


def test_maintain_promotes_a_job_whose_deadline_is_near(scheduler, clock):
    # given a sleep job (expected run 1 s) due in 5 s and a noop job (expected 1 ms) due in 5 s, both on level 3
    sleep = scheduler.submit("sleep", {"seconds": 1}, tenant="acme", deadline_s=5).job_id
    noop = scheduler.submit("noop", tenant="acme", deadline_s=5).job_id
    # when maintain runs with 4 s of slack (5 s left, less 1 s to run) / then nothing moves
    assert scheduler.maintain().plan.moves == ()
    # when it runs with 0.5 s of slack, less than one more run / then only the sleep job goes to level 0
    clock.advance(3.5)
    report = scheduler.maintain()
    assert report.plan.moves == (PlannedMove(sleep, 3, 0, "deadline: slack 0.5 s < expected run 1 s"),)
    assert report.moved == 1
    assert (scheduler.get(sleep).level, scheduler.get(noop).level) == (0, 3)
    assert scheduler.store.moves()[0].reason.startswith("deadline")


def test_expected_run_ms_uses_the_p90_of_recent_runs(scheduler, clock):
    registered = {"noop": 1.0, "sleep": 1000.0, "fail": 1.0, "report": 2500.0, "flaky": 500.0}
    assert scheduler.expected_run_ms() == registered
    # given ten sleep runs (eight of 0.1 s, one of 10 s, one of 20 s) and a flaky run that failed after 0.1 s
    for _ in range(10):
        scheduler.submit("sleep", {"seconds": 1}, tenant="acme")
    scheduler.submit("flaky", tenant="acme")
    *sleeps, flaky = scheduler.lease(11)
    clock.advance(0.1)
    scheduler.fail(flaky, "boom")
    scheduler.ack(sleeps[:8])
    clock.advance(9.9)
    scheduler.ack(sleeps[8:9])
    clock.advance(10)
    scheduler.ack(sleeps[9:])
    # then their p90s replace the registered estimates: the bucket midpoints of 10 s and 0.1 s
    assert scheduler.expected_run_ms() == {**registered, "sleep": _midpoint(10_000), "flaky": _midpoint(100)}
    assert (_midpoint(10_000), _midpoint(100)) == (9726.5, 98.5)
    # and a sleep job with 5 s of slack is now promoted
    due = scheduler.submit("sleep", {"seconds": 1}, tenant="acme", deadline_s=5).job_id
    assert [move.job_id for move in scheduler.maintain().plan.moves] == [due]
    # when the runs are more than an hour old / then the registered estimates are back
    clock.advance(3700)
    assert scheduler.expected_run_ms() == registered


def _midpoint(duration_ms: int) -> float:
    low, high = bucket_bounds(bucket_of(duration_ms))
    return (low + high) / 2


def test_arrivals_by_hour_counts_what_was_submitted_with_the_types_estimates(scheduler, clock):
    # given two reports (2.5 s each by their type) and a noop (1 ms) now, a duplicate by key, and a noop an
    # hour later
    hour = T0 // 3_600_000
    for key in ("r1", "r2", "r2"):
        scheduler.submit("report", tenant="acme", key=key)
    scheduler.submit("noop", tenant="acme")
    clock.advance(3600)
    scheduler.submit("noop", tenant="acme")
    # when read from T0 on (epoch seconds) / then per hour, type and level the jobs created and their work
    assert scheduler.arrivals_by_hour(T0 / 1000) == [
        ArrivalBucket(hour, "noop", 3, submitted=1, work_ms=1),
        ArrivalBucket(hour, "report", 1, submitted=2, work_ms=5_000),
        ArrivalBucket(hour + 1, "noop", 3, submitted=1, work_ms=1),
    ]
    # and from the clock's hour on, only that hour
    assert scheduler.arrivals_by_hour(clock.now_ms() / 1000) == [ArrivalBucket(hour + 1, "noop", 3, 1, 1)]


def test_get_of_an_unknown_id_raises(scheduler):
    unknown = new_job_id()
    with pytest.raises(JobNotFoundError) as missing:
        scheduler.get(unknown)
    assert (missing.value.job_id, str(missing.value)) == (unknown, f"no job with id {unknown!r}")


def test_queue_stats_are_settled_only_when_nothing_waits_runs_or_retries() -> None:
    from scheduler.store import QueueStats

    assert QueueStats({}, {}, 0, 3, {}).settled  # dead letters do not count
    assert QueueStats({(0, "a"): 0}, {(3, "b"): 0}, 0, 0, {}).settled
    assert not QueueStats({(0, "a"): 1}, {}, 0, 0, {}).settled
    assert not QueueStats({}, {(3, "b"): 2}, 0, 0, {}).settled
    assert not QueueStats({}, {}, 1, 0, {}).settled
