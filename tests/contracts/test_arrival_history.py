"""JobStore contract: per-hour arrival buckets (jobs created and their estimated work), kept 15 days."""

from __future__ import annotations

from scheduler.store import ARRIVALS_PRUNE_HOURS, ARRIVALS_RETENTION_MS, HOUR_MS, ArrivalBucket, JobStore
from tests.stores import T0, new_job

HOUR = T0 // HOUR_MS  # epoch hour of T0 (T0 is 800 s into it)
HOUR_START = HOUR * HOUR_MS
DAY_MS = 24 * HOUR_MS


def counts(store: JobStore, since_ms: int = 0) -> list[tuple[int, str, int, int]]:
    """(hour, type, level, submitted) of every bucket, in the order the store returns them."""
    return [(b.hour, b.type, b.level, b.submitted) for b in store.arrivals(since_ms)]


def test_each_created_job_counts_in_its_hour_type_and_level(store):
    # given two emails at level 1, a noop at level 3 and a noop at level 1 in T0's hour, submitted in two calls
    store.submit([new_job(type="email", level=1), new_job(level=3), new_job(type="email", level=1)], now_ms=T0)
    store.submit([new_job(level=1)], now_ms=T0 + 60_000)
    # and a noop at level 3 in the next hour
    store.submit([new_job(level=3)], now_ms=HOUR_START + HOUR_MS)
    # when the arrivals are read / then one bucket per (hour, type, level), sorted by them
    assert store.arrivals(0) == [
        ArrivalBucket(HOUR, "email", 1, submitted=2, work_ms=0),
        ArrivalBucket(HOUR, "noop", 1, submitted=1, work_ms=0),
        ArrivalBucket(HOUR, "noop", 3, submitted=1, work_ms=0),
        ArrivalBucket(HOUR + 1, "noop", 3, submitted=1, work_ms=0),
    ]


def test_work_ms_sums_the_estimates_of_the_created_jobs(store):
    # given jobs with estimates 1500, 2500 and 0 ms of one type and level, and one of another type
    jobs = [new_job(type="video", estimate_ms=ms) for ms in (1_500, 2_500, 0)] + [new_job(estimate_ms=7)]
    store.submit(jobs, now_ms=T0)
    # then each bucket holds the sum of its jobs' estimates
    assert store.arrivals(T0) == [
        ArrivalBucket(HOUR, "noop", 3, submitted=1, work_ms=7),
        ArrivalBucket(HOUR, "video", 3, submitted=3, work_ms=4_000),
    ]


def test_a_duplicate_by_idempotency_key_is_not_counted(store):
    # given a keyed job, the same key again in the same batch, and a cron tick key held after its job ended
    first, again_in_batch = new_job(key="order-1", estimate_ms=10), new_job(key="order-1", estimate_ms=10)
    tick = new_job(key="tick-1", key_ttl_ms=HOUR_MS, estimate_ms=100)
    store.submit([first, again_in_batch, tick], now_ms=T0)
    [lease] = store.lease(1, "w", ttl_ms=60_000, now_ms=T0 + 1, levels=[3])
    [other] = store.lease(1, "w", ttl_ms=60_000, now_ms=T0 + 1, levels=[3])
    assert {lease.job.id, other.job.id} == {first.id, tick.id}
    assert store.ack([lease.ref, other.ref], now_ms=T0 + 2) == [True, True]
    # when the tick key is submitted again while held, and order-1's key is reused after its job ended
    results = store.submit([new_job(key="tick-1", key_ttl_ms=HOUR_MS, estimate_ms=100)], now_ms=T0 + 3)
    assert [r.created for r in results] == [False]
    assert [r.created for r in store.submit([new_job(key="order-1", estimate_ms=10)], now_ms=T0 + 4)] == [True]
    # then only the three jobs created count: the duplicates add neither jobs nor work
    assert store.arrivals(T0) == [ArrivalBucket(HOUR, "noop", 3, submitted=3, work_ms=120)]


def test_a_demoted_tenants_submit_counts_at_the_level_it_landed(store):
    # given tenant "hog" demoted at level 1 to level 3
    store.demote_tenant("hog", level=1, to_level=3, until_ms=T0 + DAY_MS, reason="allotment", now_ms=T0)
    # when hog and another tenant each submit two jobs for level 1
    jobs = [new_job(tenant=tenant, level=1, estimate_ms=5) for tenant in ("hog", "hog", "fair", "fair")]
    store.submit(jobs, now_ms=T0 + 1)
    # then hog's jobs count at level 3 (where they were stored), the other tenant's at level 1
    assert store.arrivals(T0) == [
        ArrivalBucket(HOUR, "noop", 1, submitted=2, work_ms=10),
        ArrivalBucket(HOUR, "noop", 3, submitted=2, work_ms=10),
    ]
    stored = [store.get(job.id) for job in jobs]
    assert [job.level for job in stored if job is not None] == [3, 3, 1, 1]


def test_a_submit_of_more_than_a_thousand_jobs_counts_each_created_job_once(store):
    # given 2,345 jobs of two types in one submit (applied in chunks of up to 1,000), where job 1,500 repeats
    # the key of job 10, so a duplicate sits in a later chunk than its original
    jobs = [new_job(type="even" if i % 2 == 0 else "odd", estimate_ms=i) for i in range(2_345)]
    jobs[10] = new_job(type="even", key="shared", estimate_ms=10)
    jobs[1_500] = new_job(type="even", key="shared", estimate_ms=1_500)
    results = store.submit(jobs, now_ms=T0)
    assert sum(r.created for r in results) == 2_344
    # then every created job is counted once, with its own estimate; the duplicate adds nothing
    even = [i for i in range(0, 2_345, 2) if i != 1_500]
    odd = list(range(1, 2_345, 2))
    assert store.arrivals(T0) == [
        ArrivalBucket(HOUR, "even", 3, submitted=len(even), work_ms=sum(even)),
        ArrivalBucket(HOUR, "odd", 3, submitted=len(odd), work_ms=sum(odd)),
    ]


def test_since_ms_starts_at_the_hour_that_holds_it(store):
    # given one job in each of three hours
    for hour in range(3):
        store.submit([new_job()], now_ms=HOUR_START + hour * HOUR_MS + 5)
    # when read from inside, at the start of, or just before the second hour / then from its hour on
    second_on = [(HOUR + 1, "noop", 3, 1), (HOUR + 2, "noop", 3, 1)]
    assert counts(store, HOUR_START + HOUR_MS + 1_234) == second_on
    assert counts(store, HOUR_START + HOUR_MS) == second_on
    assert counts(store, HOUR_START + HOUR_MS - 1) == [(HOUR, "noop", 3, 1), *second_on]
    # and nothing from an hour after the last one
    assert store.arrivals(HOUR_START + 3 * HOUR_MS) == []


def test_buckets_are_kept_fifteen_days_and_forgotten_after(store):
    # given a job in T0's hour and one two days later
    assert ARRIVALS_RETENTION_MS == 15 * DAY_MS
    store.submit([new_job(type="old")], now_ms=T0)
    store.submit([new_job(type="newer")], now_ms=T0 + 2 * DAY_MS)
    # when a submit comes the last millisecond at which T0's hour is within 15 days
    last_kept_ms = HOUR_START + HOUR_MS + ARRIVALS_RETENTION_MS - 1
    store.submit([new_job(type="later")], now_ms=last_kept_ms)
    # then every bucket is still there
    assert [b.type for b in store.arrivals(0)] == ["old", "newer", "later"]
    # when the next submit comes a millisecond after
    store.submit([new_job(type="last")], now_ms=last_kept_ms + 1)
    # then T0's hour is forgotten and the newer ones are kept
    assert [b.type for b in store.arrivals(0)] == ["newer", "later", "last"]


def test_a_submit_after_a_long_gap_forgets_a_bounded_number_of_hours_oldest_first(store):
    # given jobs in 30 consecutive hours
    old_hours = list(range(HOUR, HOUR + 30))
    for hour in old_hours:
        store.submit([new_job()], now_ms=hour * HOUR_MS)
    # when one job is submitted 40 days later
    later = T0 + 40 * DAY_MS
    store.submit([new_job(type="later")], now_ms=later)
    # then at most ARRIVALS_PRUNE_HOURS of them went, oldest first
    left = [b.hour for b in store.arrivals(0) if b.type == "noop"]
    assert len(left) >= len(old_hours) - ARRIVALS_PRUNE_HOURS
    assert left == old_hours[len(old_hours) - len(left) :]
    # and the next few submits forget the rest
    more = len(old_hours) // ARRIVALS_PRUNE_HOURS
    for step in range(1, more + 1):
        store.submit([new_job(type="later")], now_ms=later + step)
    assert store.arrivals(0) == [ArrivalBucket(later // HOUR_MS, "later", 3, submitted=1 + more, work_ms=0)]


def test_purge_forgets_the_arrivals(store):
    store.submit([new_job()], now_ms=T0)
    store.purge()
    assert store.arrivals(0) == []
