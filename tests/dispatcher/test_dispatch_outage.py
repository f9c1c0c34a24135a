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
from ebbflow.metrics import HeadMetrics
from ebbflow.stores import open_scheduler, open_store
from scheduler.config import SchedulerConfig
from scheduler.job import JobState
from tests.dispatcher import jobs
from tests.dispatcher.conftest import Head, until
from tests.redis_conditions import BusyScript, replica_of, wait_for

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


def test_a_busy_redis_is_waited_out_and_counted_by_its_reason(
    full_cluster: LocalCluster, private_head: tuple[Head, RedisServer]
) -> None:
    head, server = private_head
    ids = head.submit("t-rec", 20, sleep=0.2)
    dispatcher = head.dispatcher()
    script: list[BusyScript] = []

    def kill_once_waited_out() -> None:
        wait_for(lambda: dispatcher.counts.outage_reasons["busy"] >= 1, "the dispatcher waits out BUSY")
        script[0].kill()

    killer = threading.Thread(target=kill_once_waited_out, daemon=True)

    def busy_once_some_jobs_ran() -> None:
        if not script and len(jobs.runs(head.key)) >= 4:
            script.append(BusyScript(server).__enter__())  # returns once Redis answers BUSY
            killer.start()

    # when another client's Lua script holds Redis while jobs run
    try:
        counts = dispatcher.run(until=until(head.queue_empty), every=[busy_once_some_jobs_ran])
    finally:
        if script:
            script[0].kill()
    killer.join()
    # then the dispatcher waited (it did not raise), counted the outage as busy, and every job ran once
    assert set(counts.outage_reasons) == {"busy"}, counts.summary()
    assert "Script killed" in str(script[0].reply)
    assert all(head.scheduler.get(job_id).state is JobState.DONE for job_id in ids)
    runs = jobs.runs(head.key)
    assert set(runs) == set(ids) and set(runs.values()) == {1}, runs
    assert counts.lost == 0 and counts.done == len(ids), counts.summary()
    # and the head's metrics show it by its reason
    metrics = HeadMetrics(lambda: open_store(head.settings), head.settings.scheduler, lambda: counts)
    (outages,) = [family for family in metrics.collect() if family.name == "ebbflow_store_outages"]
    by_reason = {sample.labels["reason"]: sample.value for sample in outages.samples if sample.name.endswith("_total")}
    assert by_reason["busy"] == counts.outage_reasons["busy"] and by_reason["oom"] == 0


def test_a_replica_that_answers_reads_is_one_readonly_outage_not_one_per_step(
    full_cluster: LocalCluster, private_head: tuple[Head, RedisServer]
) -> None:
    head, primary = private_head
    with redis_server() as replica:
        replica_of(primary, replica)
        head.submit("t-rec", 3)
        url = {"url": replica.url}
        settings = head.settings.model_copy(update={"redis": head.settings.redis.model_copy(update=url)})
        on_replica = Head(settings, open_scheduler(settings), head.key)
        wait_for(lambda: not on_replica.queue_empty(), "the jobs reach the replica")
        dispatcher = on_replica.dispatcher()
        refusals = 0

        def refused_ten_times() -> bool:  # `until` runs once per loop: after each refused step and its wait
            nonlocal refusals
            refusals += dispatcher.counts.outages > 0
            return refusals > 10

        # when the dispatcher's store is a replica (reads answer, the lease is refused: READONLY)
        try:
            counts = dispatcher.run(until=until(refused_ten_times))
        finally:
            on_replica.scheduler.store.close()
    # then it waited (it did not raise), and ten refusals in a row are one outage, counted as readonly
    assert counts.outage_reasons == {"readonly": 1} and counts.outages == 1, counts.summary()
    assert counts.leased == 0 and jobs.runs(head.key) == {}
