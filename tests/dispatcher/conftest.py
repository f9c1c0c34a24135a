"""A local multi-node Ray cluster (2 spot nodes of 2 slots, 1 on-demand node of 2 slots) shared by a test
module, and a fresh Redis-backed head per test. Module scope, not session: the cluster's driver connection
must not outlive the module, or a later test's local Ray would attach to this cluster instead."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import ray

from dispatcher.config import DispatcherConfig
from dispatcher.dispatcher import Dispatcher
from dispatcher.local_cluster import LocalCluster, NodeSpec
from dispatcher.markets import Market
from ebbflow.config import Settings
from ebbflow.stores import StoreSource, open_scheduler
from scheduler.config import SchedulerConfig
from scheduler.queue import Scheduler
from tests.dispatcher import jobs

SHAPE = (NodeSpec(Market.SPOT, 2), NodeSpec(Market.SPOT, 2), NodeSpec(Market.ON_DEMAND, 2))
RUN_LIMIT_S = 120.0  # a dispatch that has not finished by then is a failure, not a hang


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    local = LocalCluster(SHAPE)
    local.start()
    ray.init(address=local.address, configure_logging=False, log_to_driver=False)
    try:
        yield local
    finally:
        ray.shutdown()
        local.shutdown()


@pytest.fixture
def full_cluster(cluster: LocalCluster) -> LocalCluster:
    """The cluster with its original shape (an earlier test may have killed a node)."""
    for market in Market:
        wanted = sum(1 for spec in SHAPE if spec.market is market)
        have = sum(1 for node in cluster.nodes() if node.market is market)
        for _ in range(wanted - have):
            cluster.add_node(next(spec for spec in SHAPE if spec.market is market))
    return cluster


@dataclass
class Head:
    settings: Settings
    scheduler: Scheduler
    key: str  # where the test jobs record their runs and effects

    def dispatcher(self, **config: object) -> Dispatcher:
        settings = self.settings.dispatcher.model_copy(update=config)
        return Dispatcher(self.scheduler, settings, StoreSource.from_settings(self.settings), "test-head")

    def submit(self, job_type: str, count: int, job_class: str = "batch", **payload: object) -> list[str]:
        prepared = [
            self.scheduler.prepare(job_type, {"key": self.key, **payload}, tenant=f"t{i % 3}", job_class=job_class)
            for i in range(count)
        ]
        return [result.job_id for result in self.scheduler.submit_many(prepared)]

    def queue_empty(self) -> bool:
        return self.scheduler.store.stats().settled

    def until_empty(self, limit_s: float = RUN_LIMIT_S) -> Callable[[], bool]:
        return until(self.queue_empty, limit_s)


def until(done: Callable[[], bool], limit_s: float = RUN_LIMIT_S) -> Callable[[], bool]:
    deadline = time.monotonic() + limit_s

    def check() -> bool:
        if time.monotonic() > deadline:
            raise AssertionError(f"not done within {limit_s} s")
        return done()

    return check


@pytest.fixture
def head() -> Iterator[Head]:
    settings = Settings(
        store="redis",
        redis={"namespace": f"t-{uuid.uuid4().hex}"},
        scheduler=SchedulerConfig(lease_ttl_s=5, backoff_base_s=0.2, backoff_max_s=1),
        dispatcher=DispatcherConfig(drain_timeout_s=10, cancel_grace_s=1),
        job_types=["tests.dispatcher.jobs:TYPES"],
    )
    scheduler = open_scheduler(settings)
    key = f"ebbflow-test:{uuid.uuid4().hex}"
    try:
        yield Head(settings, scheduler, key)
    finally:
        scheduler.store.purge()
        scheduler.store.close()
        jobs.forget(key)
