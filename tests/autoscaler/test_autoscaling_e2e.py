"""The whole loop on a local fleet: jobs queue, the autoscaler launches spot nodes through Ray's own
autoscaler (fake multi-node provider, v2), the dispatcher runs the jobs there, the queue drains, and the
autoscaler drains the nodes it no longer needs. Real Ray, real Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from autoscaler.config import AutoscalerConfig, GuardConfig
from autoscaler.decision_log import DecisionLog
from autoscaler.fake_cluster import FakeAutoscalingCluster
from autoscaler.fleet import NodeType
from autoscaler.loop import Autoscaler
from autoscaler.ray_fleet import RayFleet
from dispatcher.capacity import busy_slots
from dispatcher.config import DispatcherConfig
from dispatcher.dispatcher import Dispatcher
from dispatcher.markets import Market
from ebbflow.config import Settings
from ebbflow.stores import StoreSource, open_scheduler
from tests.dispatcher import jobs

SPOT = NodeType("spot-a", Market.SPOT, "m5.large", "zone-a", slots=2, ondemand_price=0.1, max_nodes=3)


@pytest.fixture(scope="module")
def cluster() -> Iterator[FakeAutoscalingCluster]:
    if ray.is_initialized():
        ray.shutdown()
    local = FakeAutoscalingCluster([SPOT])
    local.start()
    ray.init(address=local.address, configure_logging=False, log_to_driver=False)
    try:
        yield local
    finally:
        ray.shutdown()
        local.shutdown()


def test_the_fleet_grows_with_the_queue_and_shrinks_when_it_drains(cluster, tmp_path: Path) -> None:
    settings = Settings(
        store="redis", redis={"namespace": f"t-{uuid.uuid4().hex}"}, job_types=["tests.dispatcher.jobs:TYPES"]
    )
    scheduler = open_scheduler(settings)
    key = f"ebbflow-test:{uuid.uuid4().hex}"
    fleet = RayFleet([SPOT], prices=lambda: {"spot-a": 0.03})
    policy = AutoscalerConfig(
        period_s=1,
        horizons_s=(10.0,),
        min_horizon_s=5.0,
        startup_lag_s=5.0,  # fake nodes come up in seconds
        min_ondemand_nodes=0,
        spread_types=1,
        guard=GuardConfig(scale_up_cooldown_s=0, scale_down_cooldown_s=2),
    )
    scaler = Autoscaler(scheduler, fleet, policy, DecisionLog(tmp_path / "log.jsonl"), busy_slots)
    dispatcher = Dispatcher(scheduler, DispatcherConfig(), StoreSource.from_settings(settings), "e2e")
    seen = {"most": 0}
    next_tick = [0.0]

    def autoscale() -> None:
        if time.monotonic() >= next_tick[0]:
            scaler.tick()
            next_tick[0] = time.monotonic() + policy.period_s
        running = [n for n in fleet.nodes() if n.state == "running"]
        seen["most"] = max(seen["most"], len(running))

    def shrunk() -> bool:
        return scheduler.store.stats().settled and not fleet.nodes() and seen["most"] > 0

    try:
        # given 120 jobs of 0.5 s queued (36 work-s by the type's estimate: 4.5 slots over 10 s) and no node
        ids = [r.job_id for r in scheduler.submit_many(
            [scheduler.prepare("t-rec", {"key": key, "sleep": 0.5}, tenant="t") for _ in range(120)]
        )]  # fmt: skip
        assert fleet.nodes() == []
        # when the dispatcher and the autoscaler run together
        deadline = time.monotonic() + 150

        def done() -> bool:
            assert time.monotonic() < deadline, f"not done: {fleet.nodes()}, {scheduler.store.stats()}"
            return shrunk()

        dispatcher.run(until=done, every=[autoscale])
        # then nodes were launched for the queue, every job ran on them, and they were drained afterwards
        assert seen["most"] >= 2
        assert sorted(jobs.effects(key)) == sorted(ids)
        decisions = DecisionLog(tmp_path / "log.jsonl").tail(1000)
        assert any(d.get("launches") for d in decisions) and any(d.get("drains") for d in decisions)
    finally:
        scheduler.store.purge()
        scheduler.store.close()
        jobs.forget(key)
