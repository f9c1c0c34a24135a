"""The dispatcher waits out a short store outage instead of exiting: its Ray tasks keep running, their results
wait in Ray and are acked once the store is back, so nothing runs twice. The queue is a private redis-server
with its append-only file on, killed (kill -9, started again from the AOF after 1 s) or paused for 7 s
(SIGSTOP: longer than the client's 5 s read timeout, shorter than the 15 s leases) while 40 jobs of 0.5 s run
on the module's local cluster."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from bench.private_redis import RedisServer, redis_server
from dispatcher.config import DispatcherConfig
from dispatcher.local_cluster import LocalCluster
from ebbflow.config import Settings
from ebbflow.stores import open_scheduler
from scheduler.config import SchedulerConfig
from scheduler.job import JobState
from tests.dispatcher import jobs
from tests.dispatcher.conftest import Head, until

JOBS = 40
PAUSE_S = 7.0


@pytest.fixture
def private_head() -> Iterator[tuple[Head, RedisServer]]:
    with redis_server(appendonly=True) as server:
        settings = Settings(
            store="redis",
            redis={"url": server.url, "namespace": f"t-{uuid.uuid4().hex}"},
            scheduler=SchedulerConfig(lease_ttl_s=15, backoff_base_s=0.2, backoff_max_s=1),
            dispatcher=DispatcherConfig(drain_timeout_s=10, cancel_grace_s=1, store_outage_s=60),
            job_types=["tests.dispatcher.jobs:TYPES"],
        )
        scheduler = open_scheduler(settings)
        key = f"ebbflow-test:{uuid.uuid4().hex}"
        try:
            yield Head(settings, scheduler, key), server
        finally:
            scheduler.store.close()
            jobs.forget(key)


@pytest.mark.parametrize("fault", ["kill", "pause"])
def test_a_store_outage_is_waited_out_with_the_running_jobs_kept(
    full_cluster: LocalCluster, private_head: tuple[Head, RedisServer], fault: str
) -> None:
    head, server = private_head
    ids = head.submit("t-rec", JOBS, sleep=0.5)
    back: list[threading.Timer] = []

    def fault_once_some_jobs_ran() -> None:
        if not back and len(jobs.runs(head.key)) >= 8:
            if fault == "kill":
                server.kill()
                back.append(threading.Timer(1.0, server.start))
            else:
                server.pause()
                back.append(threading.Timer(PAUSE_S, server.resume))
            back[0].start()

    # when the store goes away while jobs run
    counts = head.dispatcher().run(until=until(head.queue_empty), every=[fault_once_some_jobs_ran])
    back[0].join()
    # then the dispatcher waited (it returned; it did not raise), every job is done, and none ran twice
    assert counts.outages >= 1, counts.summary()
    assert all(head.scheduler.get(job_id).state is JobState.DONE for job_id in ids)  # type: ignore[union-attr]
    runs = jobs.runs(head.key)
    assert set(runs) == set(ids) and set(runs.values()) == {1}, runs
    assert counts.lost == 0 and counts.done == JOBS, counts.summary()
