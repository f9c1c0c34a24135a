"""JobStore contract: per-minute history buckets (waits, runs) and per-tenant usage."""

from __future__ import annotations

from scheduler.history import bucket_of
from scheduler.store import HistoryBucket, JobStore
from tests.stores import MINUTE, T0, new_job

MINUTE_START = MINUTE * 60_000  # T0 is 20 s into this minute; the scenario below stays inside it


def sorted_history(store: JobStore, since_ms: int) -> list[HistoryBucket]:
    return sorted(store.history(since_ms), key=lambda b: (b.minute, b.type, b.level))


def _scenario(store: JobStore) -> None:
    # tenant b's email at level 1: waits 1000, runs 3000, acked
    # tenant a's two noops at level 3: wait 2000 each; one runs 500 and is acked, one runs 700 and fails
    email = new_job(tenant="b", level=1, type="email")
    noop1, noop2 = new_job(tenant="a", level=3), new_job(tenant="a", level=3)
    store.submit([email, noop1, noop2], now_ms=T0)
    [e] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0 + 1_000, levels=[1])
    n1, n2 = store.lease(2, "w2", ttl_ms=60_000, now_ms=T0 + 2_000, levels=[3])
    assert store.ack([n1.ref], now_ms=T0 + 2_500) == [True]
    store.fail(n2.ref, "boom", now_ms=T0 + 2_700, retry_at_ms=T0 + 600_000)
    assert store.ack([e.ref], now_ms=T0 + 4_000) == [True]


EXPECTED = [
    HistoryBucket(
        minute=MINUTE,
        type="email",
        level=1,
        leased=1,
        finished=1,
        run_ms_total=3_000,
        wait_hist={bucket_of(1_000): 1},
        run_hist={bucket_of(3_000): 1},
    ),
    HistoryBucket(
        minute=MINUTE,
        type="noop",
        level=3,
        leased=2,
        finished=2,
        run_ms_total=500 + 700,
        wait_hist={bucket_of(2_000): 2},
        run_hist={bucket_of(500): 1, bucket_of(700): 1},
    ),
]


def test_history_buckets_count_leases_waits_and_runs_per_minute_type_and_level(store):
    # given leases, acks and a failure within one minute
    assert bucket_of(500) != bucket_of(700)
    _scenario(store)
    # when history is read from that minute (or from T0, or from earlier) / then exactly these buckets
    assert sorted_history(store, MINUTE_START) == EXPECTED
    assert sorted_history(store, T0) == EXPECTED
    assert sorted_history(store, T0 - 3_600_000) == EXPECTED
    # and nothing from the next minute on
    assert store.history(MINUTE_START + 60_000) == []


def test_history_separates_minutes(store):
    # given one job leased and acked in T0's minute, another leased in the next minute
    first, second = new_job(), new_job()
    store.submit([first, second], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=600_000, now_ms=T0 + 100)
    assert store.ack([lease.ref], now_ms=T0 + 200) == [True]
    store.lease(1, "w1", ttl_ms=600_000, now_ms=T0 + 60_000)
    # when read from the next minute / then only its bucket: one lease that waited 60 s, nothing finished
    assert sorted_history(store, MINUTE_START + 60_000) == [
        HistoryBucket(
            minute=MINUTE + 1,
            type="noop",
            level=3,
            leased=1,
            finished=0,
            run_ms_total=0,
            wait_hist={bucket_of(60_000): 1},
            run_hist={},
        )
    ]
    # and from T0's minute on: both buckets
    assert [(b.minute, b.leased, b.finished, b.run_ms_total) for b in sorted_history(store, T0)] == [
        (MINUTE, 1, 1, 100),
        (MINUTE + 1, 1, 0, 0),
    ]


def test_usage_sums_run_time_of_acked_and_failed_runs_per_level_and_tenant(store):
    # given the scenario: b ran 3000 ms at level 1; a ran 500 (acked) + 700 (failed) at level 3
    _scenario(store)
    # when usage is read from the minute on / then per (level, tenant)
    assert store.usage(MINUTE_START) == {(1, "b"): 3_000, (3, "a"): 1_200}
    assert store.usage(T0) == {(1, "b"): 3_000, (3, "a"): 1_200}
    # and from the next minute on there is none
    assert store.usage(MINUTE_START + 60_000) == {}


def test_usage_of_a_failed_run_into_the_dead_letters_counts_too(store):
    # given a job that runs 250 ms and fails for good
    store.submit([new_job(tenant="c", level=0)], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0 + 10)
    store.fail(lease.ref, "fatal", now_ms=T0 + 260, retry_at_ms=None)
    # then its run time is the tenant's usage, and a finished run in history
    assert store.usage(T0) == {(0, "c"): 250}
    [bucket] = store.history(T0)
    assert (bucket.leased, bucket.finished, bucket.run_ms_total, bucket.run_hist) == (1, 1, 250, {bucket_of(250): 1})
