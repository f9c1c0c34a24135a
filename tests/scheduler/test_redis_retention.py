"""Redis-only retention that the shared contract suite cannot see: the demotion records are looked at a bounded
step at a time (HSCAN from a kept cursor), the history minutes' index forgets expired minutes, and a damaged
dead-letter index entry loses only the entry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from scheduler.bounds import DEMOTED_SCAN
from scheduler.redis_store import RedisStore
from tests.stores import T0, new_job

DAY_MS = 86_400_000


@pytest.fixture
def redis_store() -> Iterator[RedisStore]:
    store = RedisStore(redis.Redis(host="127.0.0.1", port=6379), levels=4, namespace=f"t-{uuid.uuid4().hex}")
    yield store
    store.purge()
    store.close()


def test_a_large_demoted_hash_is_pruned_over_several_bounded_calls(redis_store):
    # given more ended demotions than a hash holds as one listpack (which HSCAN returns whole, COUNT or not),
    # and one in force
    listpack = int(redis_store.client.config_get("hash-max-listpack-entries")["hash-max-listpack-entries"])
    ended = listpack + 3 * DEMOTED_SCAN
    for k in range(ended):
        redis_store.demote_tenant(f"t{k}", 1, 2, until_ms=T0 + 1_000, reason="allotment", now_ms=T0)
    redis_store.demote_tenant("kept", 1, 2, until_ms=T0 + DAY_MS, reason="allotment", now_ms=T0)
    # when pruning runs after they ended, call after call
    forgotten = []
    for _ in range(100):
        forgotten.append(redis_store.prune_expired(T0 + 2_000))
        if sum(forgotten) == ended:
            break
    # then each call forgot a bounded number, all ended ones went over several calls, the one in force stays
    assert sum(forgotten) == ended
    assert len(forgotten) > 1 and max(forgotten) <= 2 * DEMOTED_SCAN
    assert redis_store.client.hkeys(redis_store.keys.demoted) == ["1|kept"]


def test_a_garbled_demotion_record_is_forgotten(redis_store):
    redis_store.client.hset(redis_store.keys.demoted, "1|t", "not a record")
    assert redis_store.prune_expired(T0) == 1
    assert redis_store.demotions(T0) == []


def test_history_minutes_past_their_expiry_leave_the_index(redis_store):
    # given a job acked at T0 (its run time goes into the minute's history)
    redis_store.submit([new_job()], T0)
    [lease] = redis_store.lease(1, "w", 60_000, T0)
    redis_store.ack([lease.ref], T0 + 1)
    assert redis_store.client.zcard(redis_store.keys.hmins) == 1
    # when pruning runs an hour later / then the minute is still indexed
    redis_store.prune_expired(T0 + 3_600_000)
    assert redis_store.client.zcard(redis_store.keys.hmins) == 1
    # when it runs after the minute's history expired (two days) / then the index forgets it
    redis_store.prune_expired(T0 + 2 * DAY_MS + 120_000)
    assert redis_store.client.zcard(redis_store.keys.hmins) == 0


def test_a_dead_letter_index_entry_of_a_job_that_is_not_dead_loses_only_the_entry(redis_store):
    # given a pending job whose id was written into the dead-letter index (damage)
    job = new_job()
    redis_store.submit([job], T0)
    redis_store.client.zadd(redis_store.keys.dlq, {job.id: T0})
    # when dead letters are pruned / then the entry goes, the job stays pending, and nothing is counted
    assert redis_store.prune_dead_letters(T0 + 1, keep=0, limit=10) == (0, False)
    assert redis_store.client.zcard(redis_store.keys.dlq) == 0
    assert redis_store.get(job.id).state.value == "pending"
    assert redis_store.stats().dead_dropped == 0


def test_a_garbled_demotion_under_way_is_dropped_and_maintenance_goes_on(redis_store):
    # given a record of a demotion under way that names no level, and one whose value is garbled
    redis_store.client.hset(redis_store.keys.demoting, mapping={"x|t": "1|2|0|r", "1|u": "garbage"})
    # when the moves under way are resumed / then both records go and nothing moves
    assert redis_store.resume_demotions(T0) == 0
    assert redis_store.client.hlen(redis_store.keys.demoting) == 0
