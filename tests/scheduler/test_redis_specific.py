"""Redis-only behaviour that the shared contract suite cannot see."""

from __future__ import annotations

import uuid

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bench.private_redis import redis_server
from scheduler.errors import StoreUnavailableError
from scheduler.redis_store import RedisStore
from tests.stores import T0, new_job


@pytest.fixture
def redis_store():
    store = RedisStore(redis.Redis(host="127.0.0.1", port=6379), levels=4, namespace=f"t-{uuid.uuid4().hex}")
    yield store
    store.purge()
    store.close()


def test_a_server_that_lost_its_scripts_gets_them_again(redis_store):
    # given a Redis whose script cache was flushed (a restart or a failover does that)
    redis_store.client.script_flush()
    # when the store submits and leases / then the scripts are loaded again and the job goes through
    job = new_job()
    assert [r.created for r in redis_store.submit([job], T0)] == [True]
    assert [lease.job.id for lease in redis_store.lease(1, "w", 1000, T0)] == [job.id]


def test_an_unreachable_server_is_a_store_error_naming_the_address():
    # (no retries: redis-py's default backoff would make this test wait for nothing)
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    # the store asks the server for its settings when it opens (scheduler.redis_requirements)
    with pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1:1 is unreachable"):
        RedisStore(client, levels=4, namespace="t")


def test_a_server_gone_after_the_store_opened_is_a_store_error_naming_the_address():
    with redis_server() as server:
        client = redis.Redis(host="127.0.0.1", port=server.port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
        store = RedisStore(client, levels=4, namespace="t")
        server.stop()
        with pytest.raises(StoreUnavailableError, match=rf"127\.0\.0\.1:{server.port} is unreachable"):
            store.submit([new_job()], T0)
        with pytest.raises(StoreUnavailableError, match=rf"127\.0\.0\.1:{server.port} is unreachable"):
            store.stats()
        store.close()


def test_forgetting_a_finished_job_deletes_every_field_of_it_progress_too():
    # given a store keeping 1 finished job (so it forgets exactly, in chunks of 0), and 2 jobs that
    # checkpointed, reported progress, failed once and were acked
    store = RedisStore(
        redis.Redis(host="127.0.0.1", port=6379), levels=4, namespace=f"t-{uuid.uuid4().hex}", finished_retention=1
    )
    try:
        jobs = [new_job(key=f"k{i}") for i in range(2)]
        store.submit(jobs, T0)
        for k, job in enumerate(jobs):
            now = T0 + 1_000 * k
            [lease] = store.lease(1, "w", 60_000, now)
            store.save_checkpoint(lease.ref, '{"page": 1}')
            store.save_progress(lease.ref, '{"done": 1}')
            store.fail(lease.ref, "boom", now, retry_at_ms=now)
            [lease] = store.lease(1, "w", 60_000, now)
            assert lease.job.id == job.id
            assert store.ack([lease.ref], now + 1) == [True]
        # then no field of the first job is left in the jobs hash; the second keeps all of its own
        fields = store.client.hkeys(store.keys.jobs)
        assert [f for f in fields if f.startswith(jobs[0].id)] == []
        assert sorted(f.removeprefix(jobs[1].id) for f in fields if f.startswith(jobs[1].id)) == sorted(
            ["", ":s", ":c", ":k", ":e", ":g"]
        )
    finally:
        store.purge()
        store.close()
