"""A live Redis that refuses commands for a while is an outage, not a bug: BUSY, OOM, READONLY, MASTERDOWN and
LOADING reach the caller as StoreUnavailableError with the condition as `reason` and what to do in the message,
and the same call works once the condition ends, with nothing lost or doubled. A NOSCRIPT reply or an error
from a script stays what it is. Each test has redis-servers of its own (bench.private_redis)."""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bench.private_redis import RedisServer, redis_server
from ebbflow.config import RedisSettings, Settings
from ebbflow.stores import open_scheduler
from scheduler.errors import StoreUnavailableError
from scheduler.job import NewJob
from scheduler.queue import Scheduler
from scheduler.redis_store import RedisStore
from tests.redis_conditions import BusyScript, fill_until_oom, link_down, replica_of, slowly_loading, wait_for


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with redis_server() as started:
        yield started


def scheduler_on(server: RedisServer) -> Scheduler:
    settings = Settings(store="redis", redis=RedisSettings(url=server.url, namespace=f"t-{uuid.uuid4().hex}"))
    return open_scheduler(settings)


def jobs(scheduler: Scheduler, count: int) -> list[NewJob]:
    return [scheduler.prepare("noop", None, tenant=f"t{n % 2}", job_class="batch") for n in range(count)]


def refusal(call: object) -> StoreUnavailableError:
    assert callable(call)
    with pytest.raises(StoreUnavailableError) as refused:
        call()
    return refused.value


def test_a_full_redis_refuses_a_submit_as_an_oom_outage_and_the_same_submit_works_once_it_has_room(
    server: RedisServer,
) -> None:
    scheduler = scheduler_on(server)
    before = jobs(scheduler, 5)
    scheduler.submit_many(before)
    # given a Redis full under noeviction
    assert fill_until_oom(server) > 0
    (late,) = jobs(scheduler, 1)
    # when a submit comes, it is refused as an outage that names OOM and what to do
    full = refusal(lambda: scheduler.submit_many([late]))
    assert full.reason == "oom"
    assert f"Redis at 127.0.0.1:{server.port} refused the command (OOM:" in str(full)
    assert "raise maxmemory" in str(full)
    # the reads run in MULTI, which Redis refuses under OOM as well (queued commands could use memory)
    assert refusal(scheduler.store.stats).reason == "oom"
    # then, with room again, the same submit stores the job once, and no job was lost or doubled
    server.client().config_set("maxmemory", 0)
    assert sum(scheduler.store.stats().pending.values()) == 5  # the refused submit did nothing
    assert scheduler.submit_many([late])[0].created
    leased = scheduler.lease(100, "w")
    assert sorted(lease.job.id for lease in leased) == sorted(job.id for job in [*before, late])
    assert sum(scheduler.store.stats().pending.values()) == 0
    scheduler.store.close()


def test_a_long_script_is_a_busy_outage_until_it_is_killed(server: RedisServer) -> None:
    scheduler = scheduler_on(server)
    (job,) = jobs(scheduler, 1)
    found: list[StoreUnavailableError] = []

    def busy() -> bool:
        try:
            scheduler.submit_many([job])
        except StoreUnavailableError as err:
            found.append(err)
            return True
        raise AssertionError("the submit went through while another script held Redis")

    # given another client's Lua script that keeps Redis busy
    with BusyScript(server) as script:
        # when a store call comes, it is refused as an outage that names BUSY and the way out
        wait_for(busy, "a submit refused with BUSY")
        assert found[0].reason == "busy", found[0]
        assert "(BUSY: Redis is busy running a script" in str(found[0])
        assert "run SCRIPT KILL" in str(found[0])
        script.kill()
    assert "Script killed" in str(script.reply)
    # then the same submit works, once
    assert scheduler.submit_many([job])[0].created
    assert [lease.job.id for lease in scheduler.lease(10, "w")] == [job.id]
    scheduler.store.close()


def test_a_replica_refuses_writes_as_a_readonly_outage_and_answers_reads(server: RedisServer) -> None:
    with redis_server() as replica:
        replica_of(server, replica)
        scheduler = scheduler_on(replica)
        (job,) = jobs(scheduler, 1)
        refused = refusal(lambda: scheduler.submit_many([job]))
        assert refused.reason == "readonly"
        assert f"Redis at 127.0.0.1:{replica.port} refused the command (READONLY:" in str(refused)
        assert "point redis.url at the primary" in str(refused)
        assert sum(scheduler.store.stats().pending.values()) == 0
        scheduler.store.close()


def test_a_replica_that_lost_its_primary_is_a_masterdown_outage(server: RedisServer) -> None:
    with redis_server() as replica:
        replica_of(server, replica, replica_serve_stale_data="no")
        scheduler = scheduler_on(replica)
        server.stop()
        wait_for(lambda: link_down(replica), "the replica sees its primary gone")
        refused = refusal(scheduler.store.stats)
        assert refused.reason == "masterdown"
        assert "(MASTERDOWN:" in str(refused) and "lost its primary" in str(refused)
        scheduler.store.close()


def test_a_redis_loading_its_data_is_a_loading_outage_until_it_has_loaded(server: RedisServer) -> None:
    # a client without redis-py's own retries, which would otherwise wait out a short load by themselves
    client = redis.Redis(port=server.port, retry=Retry(NoBackoff(), 0), socket_connect_timeout=1)
    namespace = f"t-{uuid.uuid4().hex}"
    with slowly_loading(server, keys=3000, key_load_delay_us=2000):  # about 6 s of loading
        store = RedisStore(client, levels=4, namespace=namespace)  # the server check answers while loading
        refused = refusal(store.stats)
        assert refused.reason == "loading"
        assert "(LOADING: Redis is loading the dataset in memory); it is loading its dataset" in str(refused)
        wait_for(lambda: _answers(store), "the store answers once the data has loaded")
        store.close()
    client.close()


def _answers(store: RedisStore) -> bool:
    try:
        store.stats()
    except StoreUnavailableError as err:
        assert err.reason == "loading", err
        return False
    return True


def test_a_missing_script_and_an_error_inside_a_script_are_no_outage(server: RedisServer) -> None:
    scheduler = scheduler_on(server)
    store = scheduler.store
    assert isinstance(store, RedisStore)
    server.client().script_flush()  # NOSCRIPT: the store loads its script again and the call goes through
    assert scheduler.submit_many(jobs(scheduler, 1))[0].created
    server.client().delete(store.keys.jobs)
    server.client().set(store.keys.jobs, "damage")  # the jobs hash overwritten by hand: the script fails
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        scheduler.submit_many(jobs(scheduler, 1))
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        store.get("any")
    store.purge()
    store.close()


def test_the_reason_travels_with_the_error() -> None:
    # a job on a Ray worker that meets an outage raises it back to the head, pickled
    error = pickle.loads(pickle.dumps(StoreUnavailableError("Redis at h:1 refused the command (BUSY: ...)", "busy")))
    assert (str(error), error.reason) == ("Redis at h:1 refused the command (BUSY: ...)", "busy")
    assert StoreUnavailableError("unreachable").reason == "connection"
