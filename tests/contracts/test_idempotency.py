"""JobStore contract: idempotency keys (while active, after the job ends, key_ttl_ms, within a batch), per
tenant; the cron runner's reserved key space and the key_ttl maximum as a Scheduler on each store enforces
them; and stores written before keys were per tenant (a SQLite file of schema version 3, Redis entries under
the bare key)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.clock import FakeClock
from scheduler.config import SchedulerConfig
from scheduler.cron import CronRunner, CronSchedule, tick_key
from scheduler.errors import InvalidJobError
from scheduler.job import JobState, SubmitResult
from scheduler.queue import Scheduler
from scheduler.redis_store import RedisStore
from scheduler.registry import JobTypeRegistry
from scheduler.sqlite_schema import SCHEMA, SCHEMA_VERSION
from scheduler.sqlite_store import SQLiteStore
from scheduler.store import JobStore
from scheduler.validation import MAX_KEY_TTL_S
from tests.stores import REDIS_HOST, REDIS_PORT, T0, new_job


def job_count(store: JobStore) -> int:
    stats = store.stats()
    return sum(stats.pending.values()) + sum(stats.running.values()) + stats.delayed + stats.dead


def _stay_pending(store: JobStore, job_id: str) -> None:
    pass


def _run(store: JobStore, job_id: str) -> None:
    [lease] = store.lease(1, "w1", ttl_ms=600_000, now_ms=T0 + 1)
    assert lease.job.id == job_id


def _delay(store: JobStore, job_id: str) -> None:
    [lease] = store.lease(1, "w1", ttl_ms=600_000, now_ms=T0 + 1)
    store.fail(lease.ref, "boom", now_ms=T0 + 2, retry_at_ms=T0 + 600_000)


HOLDERS: dict[str, tuple[Callable[[JobStore, str], None], JobState]] = {
    "pending": (_stay_pending, JobState.PENDING),
    "running": (_run, JobState.RUNNING),
    "delayed": (_delay, JobState.DELAYED),
}


@pytest.mark.parametrize("holder", list(HOLDERS))
def test_a_key_of_an_active_job_returns_that_job(store, holder):
    # given a job with key "report-7" that is pending, running or delayed
    first = new_job(key="report-7", payload='{"v": 1}')
    assert store.submit([first], now_ms=T0) == [SubmitResult(first.id, True)]
    make_state, state = HOLDERS[holder]
    make_state(store, first.id)
    # when another job with the same key is submitted (even with another payload and level)
    dup = new_job(key="report-7", payload='{"v": 2}', level=0)
    result = store.submit([dup], now_ms=T0 + 10)
    # then the first job is returned, not created, and nothing is stored
    assert result == [SubmitResult(first.id, False)]
    assert store.get(dup.id) is None
    assert job_count(store) == 1
    got = store.get(first.id)
    assert (got.state, got.payload, got.level) == (state, {"v": 1}, 3)


@pytest.mark.parametrize("ending", ["ack", "dead"])
def test_a_key_is_free_again_once_its_job_is_acked_or_dead(store, ending):
    # given a job with a key that ended (acked, or failed into the dead letters)
    first = new_job(key="k")
    store.submit([first], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0 + 1)
    if ending == "ack":
        assert store.ack([lease.ref], now_ms=T0 + 2) == [True]
    else:
        store.fail(lease.ref, "fatal", now_ms=T0 + 2, retry_at_ms=None)
    # when the key is submitted again / then a new job is created
    second = new_job(key="k")
    assert store.submit([second], now_ms=T0 + 3) == [SubmitResult(second.id, True)]
    assert store.get(second.id).state == JobState.PENDING
    # and that one now holds the key
    third = new_job(key="k")
    assert store.submit([third], now_ms=T0 + 4) == [SubmitResult(second.id, False)]


def test_key_ttl_holds_the_key_after_the_job_ends(store):
    # given a cron tick job with a 60 s key hold, acked 10 ms after it was created
    tick = new_job(key="cron:nightly:28333333", key_ttl_ms=60_000, created_ms=T0)
    store.submit([tick], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0 + 5)
    assert store.ack([lease.ref], now_ms=T0 + 10) == [True]
    # when the same tick is submitted again within the hold / then it is not created again
    again = new_job(key="cron:nightly:28333333", key_ttl_ms=60_000, created_ms=T0 + 30_000)
    assert store.submit([again], now_ms=T0 + 30_000) == [SubmitResult(tick.id, False)]
    assert store.get(again.id) is None
    # when submitted well after the hold ended / then it is created
    later = new_job(key="cron:nightly:28333333", key_ttl_ms=60_000, created_ms=T0 + 70_000)
    assert store.submit([later], now_ms=T0 + 70_000) == [SubmitResult(later.id, True)]


def test_key_ttl_does_not_free_the_key_of_a_job_still_active(store):
    # given a job with a 1 s key hold that is still pending 5 s later
    first = new_job(key="k", key_ttl_ms=1_000)
    store.submit([first], now_ms=T0)
    # when the key is submitted again / then the pending job is returned
    dup = new_job(key="k", key_ttl_ms=1_000, created_ms=T0 + 5_000)
    assert store.submit([dup], now_ms=T0 + 5_000) == [SubmitResult(first.id, False)]


def test_duplicates_within_one_batch_create_one_job(store):
    # given a batch with two jobs sharing a key, one with another key and two without a key
    a, a_dup, b, none1, none2 = (
        new_job(key="a"),
        new_job(key="a"),
        new_job(key="b"),
        new_job(),
        new_job(),
    )
    # when submitted together
    results = store.submit([a, a_dup, b, none1, none2], now_ms=T0)
    # then the duplicate answers with the first job's id, and jobs without a key are never merged
    assert results == [
        SubmitResult(a.id, True),
        SubmitResult(a.id, False),
        SubmitResult(b.id, True),
        SubmitResult(none1.id, True),
        SubmitResult(none2.id, True),
    ]
    assert store.get(a_dup.id) is None
    assert job_count(store) == 4


def test_different_keys_create_different_jobs(store):
    # given jobs with different keys / then all are created
    jobs = [new_job(key=f"k{i}") for i in range(3)]
    assert store.submit(jobs, now_ms=T0) == [SubmitResult(job.id, True) for job in jobs]
    assert job_count(store) == 3


# -- per tenant -----------------------------------------------------------------------------------------------


def test_the_same_key_from_two_tenants_makes_two_jobs(store):
    # given tenant a's pending job with key "report-7"
    a = new_job(tenant="a", key="report-7")
    store.submit([a], now_ms=T0)
    # when tenant b submits the same key / then b gets a job of its own, not a's
    b = new_job(tenant="b", key="report-7")
    assert store.submit([b], now_ms=T0 + 1) == [SubmitResult(b.id, True)]
    assert (store.get(b.id).tenant, store.get(b.id).key) == ("b", "report-7")
    # and each tenant's repeat returns its own job
    repeats = [new_job(tenant="b", key="report-7"), new_job(tenant="a", key="report-7")]
    assert store.submit(repeats, now_ms=T0 + 2) == [SubmitResult(b.id, False), SubmitResult(a.id, False)]
    assert job_count(store) == 2


def test_one_batch_with_one_key_from_two_tenants_makes_two_jobs(store):
    a, b, a_dup = new_job(tenant="a", key="k"), new_job(tenant="b", key="k"), new_job(tenant="a", key="k")
    results = store.submit([a, b, a_dup], now_ms=T0)
    assert results == [SubmitResult(a.id, True), SubmitResult(b.id, True), SubmitResult(a.id, False)]


def test_a_held_key_holds_only_for_its_tenant(store):
    # given tenant a's job with key "tick" held 60 s, acked at once
    a = new_job(tenant="a", key="tick", key_ttl_ms=60_000)
    store.submit([a], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0 + 1)
    assert store.ack([lease.ref], now_ms=T0 + 2) == [True]
    # when tenant b submits that key within the hold (with a long hold of its own) / then it is created
    b = new_job(tenant="b", key="tick", key_ttl_ms=3_600_000)
    assert store.submit([b], now_ms=T0 + 10) == [SubmitResult(b.id, True)]
    # and a's hold still returns a's job to a; b's returns b's to b
    repeats = [new_job(tenant="a", key="tick"), new_job(tenant="b", key="tick")]
    assert store.submit(repeats, now_ms=T0 + 20) == [SubmitResult(a.id, False), SubmitResult(b.id, False)]


def test_a_dead_job_retried_holds_its_key_for_its_tenant_only(store):
    # given tenant a's keyed job, dead-lettered
    a = new_job(tenant="a", key="k")
    store.submit([a], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0 + 1)
    store.fail(lease.ref, "fatal", now_ms=T0 + 2, retry_at_ms=None)
    # and tenant b's job with the same key
    b = new_job(tenant="b", key="k")
    assert store.submit([b], now_ms=T0 + 3) == [SubmitResult(b.id, True)]
    # when a's job is retried / then it is active again and holds the key for a, while b keeps its own
    assert store.retry_dead([a.id], now_ms=T0 + 4) == 1
    repeats = [new_job(tenant="a", key="k"), new_job(tenant="b", key="k")]
    assert store.submit(repeats, now_ms=T0 + 5) == [SubmitResult(a.id, False), SubmitResult(b.id, False)]


# -- what a Scheduler on each store lets a user submit ---------------------------------------------------------

HOT_TOPICS = CronSchedule.model_validate({"name": "hot-topics", "cron": "0 * * * *", "type": "noop"})
NEXT_TICK = HOT_TOPICS.ticks(T0, T0 + 3_600_000)[0]  # 23:00Z, the next hour after T0 (22:13:20Z)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def scheduler(store: JobStore, clock: FakeClock) -> Scheduler:
    return Scheduler(store, SchedulerConfig(), JobTypeRegistry(BUILTIN_TYPES), clock)


@pytest.mark.parametrize("tenant", ["cron", "mallory"])
def test_a_user_cannot_take_the_key_of_a_cron_tick(scheduler, clock, tenant):
    # when a user submits the next hot-topics tick's key with the longest hold (as the cron tenant or another)
    with pytest.raises(InvalidJobError) as refused:
        scheduler.submit("noop", tenant=tenant, key=tick_key("hot-topics", NEXT_TICK), key_ttl_s=MAX_KEY_TTL_S)
    # then it is refused, naming the field, the reserved prefix and the fix, and nothing is stored
    assert refused.value.field == "key"
    assert "reserved for the cron runner's ticks; choose a key that does not start with 'cron:'" in str(refused.value)
    assert job_count(scheduler.store) == 0
    # and when the tick comes, the cron runner submits it
    clock.advance((NEXT_TICK - T0) / 1000)
    [result] = CronRunner(scheduler, [HOT_TOPICS]).tick()
    assert result.created
    assert scheduler.store.get(result.job_id).key == f"cron:hot-topics:{NEXT_TICK}"


def test_two_cron_heads_submit_a_tick_once_and_a_user_key_does_not_meet_it(scheduler, clock):
    # given a user job whose key reads like a tick but lacks the reserved prefix
    user = scheduler.submit("noop", tenant="cron", key=f"hot-topics:{NEXT_TICK}", key_ttl_s=MAX_KEY_TTL_S)
    # when two runners see the tick / then one job is created for it, apart from the user's
    clock.advance((NEXT_TICK - T0) / 1000)
    [first] = CronRunner(scheduler, [HOT_TOPICS]).tick()
    assert first.created and first.job_id != user.job_id
    assert CronRunner(scheduler, [HOT_TOPICS]).tick() == [SubmitResult(first.job_id, False)]


def test_key_ttl_above_the_maximum_is_refused(scheduler):
    # when a key is to be held a second longer than the maximum / then it is refused, naming field, maximum, fix
    with pytest.raises(InvalidJobError) as refused:
        scheduler.submit("noop", tenant="a", key="k", key_ttl_s=MAX_KEY_TTL_S + 1)
    assert refused.value.field == "key_ttl"
    message = str(refused.value)
    assert f"above the maximum of {MAX_KEY_TTL_S} s (7 days)" in message and "put the period in the key" in message
    assert job_count(scheduler.store) == 0
    # and the maximum itself is accepted
    assert scheduler.submit("noop", tenant="a", key="k", key_ttl_s=MAX_KEY_TTL_S).created


# -- stores written before keys were per tenant --------------------------------------------------------------

# Schema version 3's key structures: held keys named by the key alone, active keys indexed by key alone.
V3_KEY_SCHEMA = (
    "CREATE TABLE tick_keys (key TEXT PRIMARY KEY, job_id TEXT NOT NULL, held_until_ms INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX tick_keys_expiry ON tick_keys (held_until_ms)",
    "CREATE INDEX jobs_active_key ON jobs (key) WHERE key IS NOT NULL AND state IN ('pending', 'delayed', 'running')",
)
V3_SCHEMA = tuple(st for st in SCHEMA if "tick_keys" not in st and "jobs_active_tenant_key" not in st) + V3_KEY_SCHEMA


def _v3_file(path: Path, active: dict[str, str], held: dict[str, tuple[str | None, int]]) -> dict[str, str]:
    """A store file as schema version 3 wrote it: a pending job per `active` key (key -> tenant), and per
    `held` key (key -> (tenant, or None for a job already forgotten), held until ms) a done job holding it.
    Returns key -> job id."""
    ids: dict[str, str] = {}
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in V3_SCHEMA:
            db.execute(statement)
        jobs = [(new_job(tenant=tenant, key=key), "pending") for key, tenant in active.items()]
        jobs += [(new_job(tenant=tenant, key=key), "done") for key, (tenant, _) in held.items() if tenant]
        db.executemany(
            "INSERT INTO jobs (id, record, type, tenant, max_attempts, submitted_level, key, state, level,"
            " enqueued_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (j.id, j.record(), j.type, j.tenant, j.max_attempts, j.level, j.key, state, j.level, T0)
                for j, state in jobs
            ],
        )
        db.executemany(
            "INSERT OR IGNORE INTO rr (level, tenant, turn) VALUES (3, ?, 1)", [(t,) for t in active.values()]
        )
        ids = {j.key: j.id for j, _ in jobs if j.key}
        for key in held:
            ids.setdefault(key, f"forgotten-{key}")
        db.executemany(
            "INSERT INTO tick_keys (key, job_id, held_until_ms) VALUES (?, ?, ?)",
            [(key, ids[key], until) for key, (_, until) in held.items()],
        )
        db.execute("PRAGMA user_version = 3")
    finally:
        db.close()
    return ids


def test_a_sqlite_file_of_version_3_keeps_its_keys_as_keys_of_their_jobs_tenants(tmp_path):
    # given a version 3 file: a's pending job with key "report", a's tick key held 1 h by a done job, and a
    # held key whose job was already forgotten
    path = tmp_path / "v3.db"
    until = T0 + 3_600_000
    ids = _v3_file(path, {"report": "a"}, {"cron:hot-topics:1": ("cron", until), "old": (None, until)})
    # when the store opens it
    with SQLiteStore(path, levels=4) as store:
        # then a's active key returns a's job to a, and b gets a job of its own
        again = [new_job(tenant="a", key="report"), new_job(tenant="b", key="report")]
        results = store.submit(again, now_ms=T0 + 1)
        assert results == [SubmitResult(ids["report"], False), SubmitResult(again[1].id, True)]
        # and the held tick key still holds for its job's tenant, and for no other
        ticks = [new_job(tenant="cron", key="cron:hot-topics:1"), new_job(tenant="b", key="cron:hot-topics:1")]
        results = store.submit(ticks, now_ms=T0 + 2)
        assert results == [SubmitResult(ids["cron:hot-topics:1"], False), SubmitResult(ticks[1].id, True)]
        # and the key whose job is gone has no tenant to hold it for: it is free
        fresh = new_job(tenant="a", key="old")
        assert store.submit([fresh], now_ms=T0 + 3) == [SubmitResult(fresh.id, True)]
    # and the file is at the current version, its key lookups indexed by tenant and key
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "jobs_active_tenant_key" in indexes and "jobs_active_key" not in indexes
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "tick_keys_unscoped" not in tables
    finally:
        db.close()
    # and opened again, it keeps what it holds
    with SQLiteStore(path, levels=4) as store:
        tick = new_job(tenant="cron", key="cron:hot-topics:1")
        assert store.submit([tick], now_ms=T0 + 4) == [SubmitResult(ids["cron:hot-topics:1"], False)]


@pytest.fixture
def redis_store() -> Iterator[RedisStore]:
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    store = RedisStore(client, levels=4, namespace=f"t-{uuid.uuid4().hex}")
    yield store
    store.purge()
    store.close()
    client.close()


def _as_written_before_scoping(store: RedisStore, job_id: str, tenant: str, key: str) -> None:
    """Rewrite the entries submit stored for a job's key as the code before per-tenant keys wrote them."""
    p, client = store.keys.prefix, store.client
    scoped = f"{tenant}|{key}"
    if client.hget(p + "idem", scoped) == job_id:
        client.hdel(p + "idem", scoped)
        client.hset(p + "idem", key, job_id)
    if client.hget(store.keys.jobs, f"{job_id}:i") == scoped:
        client.hset(store.keys.jobs, f"{job_id}:i", key)
    held = client.hget(p + "once", scoped)
    if held is not None:
        untl = held.split("|")[1]
        client.hdel(p + "once", scoped)
        client.zrem(p + "oncez", scoped)
        client.hset(p + "once", key, f"{job_id}|{untl}")
        client.zadd(p + "oncez", {key: int(untl)})


def test_redis_entries_written_before_keys_were_per_tenant_hold_for_their_jobs_tenant(redis_store):
    # given a's job with key "k" held 60 s, its entries as the code before the upgrade wrote them
    a = new_job(tenant="a", key="k", key_ttl_ms=60_000)
    redis_store.submit([a], now_ms=T0)
    _as_written_before_scoping(redis_store, a.id, "a", "k")
    # when a and b submit "k" while a's job is pending / then a gets its job back, b a new one
    again = [new_job(tenant="a", key="k"), new_job(tenant="b", key="k")]
    assert redis_store.submit(again, now_ms=T0 + 1) == [SubmitResult(a.id, False), SubmitResult(again[1].id, True)]
    # when a's job is acked / then its old entry still holds "k" for a, within the hold
    leases = {lease.job.id: lease for lease in redis_store.lease(2, "w", ttl_ms=60_000, now_ms=T0 + 2)}
    assert redis_store.ack([leases[a.id].ref], now_ms=T0 + 3) == [True]
    assert redis_store.client.hget(redis_store.keys.prefix + "idem", "k") is None  # the ack freed it
    assert redis_store.submit([new_job(tenant="a", key="k")], now_ms=T0 + 4) == [SubmitResult(a.id, False)]
    # and after the hold, reap forgets it and "k" is free for a
    redis_store.reap(now_ms=T0 + 60_001)
    assert redis_store.client.hget(redis_store.keys.prefix + "once", "k") is None
    fresh = new_job(tenant="a", key="k")
    assert redis_store.submit([fresh], now_ms=T0 + 60_002) == [SubmitResult(fresh.id, True)]


def test_a_tick_key_planted_before_the_upgrade_does_not_hold_back_the_tick(redis_store):
    # given mallory's job that took the next tick's key with a long hold before the upgrade
    key = tick_key("hot-topics", NEXT_TICK)
    planted = new_job(tenant="mallory", key=key, key_ttl_ms=10 * 365 * 86_400_000)
    redis_store.submit([planted], now_ms=T0)
    _as_written_before_scoping(redis_store, planted.id, "mallory", key)
    # when the cron runner's job for that tick comes / then it is created
    tick = new_job(tenant="cron", key=key, key_ttl_ms=MAX_KEY_TTL_S * 1000)
    assert redis_store.submit([tick], now_ms=NEXT_TICK) == [SubmitResult(tick.id, True)]
