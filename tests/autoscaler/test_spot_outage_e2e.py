"""Every spot type loses capacity on a local fleet: the autoscaler's deadline reasoning buys on-demand nodes for
the daily level, its decision lets the dispatcher place that level's jobs on them, and the jobs finish there
before their deadlines; jobs that were checkpointing on spot when it went resume there. Real Ray (Ray's own
autoscaler, fake multi-node provider, v2), real Redis, the real Autoscaler loop and Dispatcher, wired as the
head wires them (ebbflow/head.py).

Spot is out the way a cloud is out of capacity: the cluster refuses every launch of both spot types, in two
zones (`FakeAutoscalingCluster.refuse`), so Ray's autoscaler reports each try as a failed launch, `RayFleet`
passes it on as a FleetError, and the autoscaler finds no spot type it can launch (autoscaler/choose.py,
deadlines.py). Scheduler maintenance does not run here, so no deadline promotion lifts the daily jobs to the
top level (which may always use on-demand): only the decision's plan can put them there."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import ray

from autoscaler.config import AutoscalerConfig, GuardConfig
from autoscaler.decision_log import DecisionLog
from autoscaler.fake_cluster import FakeAutoscalingCluster
from autoscaler.fleet import NodeType
from autoscaler.loop import Autoscaler
from autoscaler.ray_fleet import RayFleet, node_type_resource
from dispatcher.capacity import busy_slots
from dispatcher.config import DispatcherConfig
from dispatcher.dispatcher import Dispatcher
from dispatcher.markets import Market
from dispatcher.ondemand_plan import OnDemandPlan
from ebbflow.config import Settings
from ebbflow.stores import StoreSource, open_scheduler
from scheduler.queue import Scheduler
from tests.dispatcher import jobs

SPOT_A = NodeType("spot-a", Market.SPOT, "m5.large", "zone-a", slots=2, ondemand_price=0.1, max_nodes=2)
SPOT_B = NodeType("spot-b", Market.SPOT, "c5.large", "zone-b", slots=2, ondemand_price=0.1, max_nodes=2)
ONDEMAND = NodeType("od-a", Market.ON_DEMAND, "m5.large", "zone-a", slots=2, ondemand_price=0.1, max_nodes=2)
SPOT_TYPES = (SPOT_A.name, SPOT_B.name)
DAILY = 1  # the level of class "daily-active"
DEADLINE_S = 150.0  # of every job, after its submit (fake nodes start in seconds, in a minute on a busy machine)
LIMIT_S = 300.0  # a run not done by then is a failure, not a hang
UNIFORM_PROGRESS = "on demand keep its queue on uniform progress"  # the deadline reasoning (deadlines.py)
POLICY = AutoscalerConfig(
    period_s=1,
    horizons_s=(10.0, DEADLINE_S),
    min_horizon_s=5.0,
    startup_lag_s=5.0,  # fake nodes come up in seconds (more on a busy machine)
    min_ondemand_nodes=0,
    guard=GuardConfig(scale_up_cooldown_s=0),
)


@pytest.fixture
def cluster() -> Iterator[FakeAutoscalingCluster]:
    """A fresh cluster per test: no node, and no resource request, left over from another."""
    if ray.is_initialized():
        ray.shutdown()
    local = FakeAutoscalingCluster([SPOT_A, SPOT_B, ONDEMAND])
    local.start()
    ray.init(address=local.address, configure_logging=False, log_to_driver=False)
    try:
        yield local
    finally:
        ray.shutdown()
        local.shutdown()


@dataclass
class Head:
    """The head's dispatcher and autoscaler, wired as ebbflow/head.py wires them, on the test's own period."""

    scheduler: Scheduler
    fleet: RayFleet
    dispatcher: Dispatcher
    scaler: Autoscaler
    log: DecisionLog
    key: str  # where the test jobs record their runs and effects
    started: float = field(default_factory=time.monotonic)
    rounds: list[tuple[float, OnDemandPlan, str]] = field(default_factory=list)  # (s in, plan, counts)
    _next_tick: float = 0.0

    def submit(self, job_type: str, count: int, **payload: Any) -> dict[str, int | None]:
        """Daily jobs due DEADLINE_S after submit; job id -> deadline (epoch ms)."""
        options: dict[str, Any] = {"tenant": "t", "job_class": "daily-active", "deadline_s": DEADLINE_S}
        prepared = [self.scheduler.prepare(job_type, {"key": self.key, **payload}, **options) for _ in range(count)]
        assert {job.level for job in prepared} == {DAILY}
        results = self.scheduler.submit_many(prepared)
        return {result.job_id: job.deadline_ms for result, job in zip(results, prepared, strict=True)}

    def autoscale(self) -> None:
        if time.monotonic() >= self._next_tick:
            plan = self.dispatcher.follow(self.scaler.tick(), POLICY.period_s)
            self.rounds.append((round(time.monotonic() - self.started, 1), plan, self.dispatcher.counts.summary()))
            self._next_tick = time.monotonic() + POLICY.period_s

    def run_until_settled(self, also: Callable[[], None] | None = None) -> None:
        def done() -> bool:
            assert time.monotonic() < self.started + LIMIT_S, f"{self.scheduler.store.stats()}, {self.rounds[-5:]}"
            return self.scheduler.store.stats().settled

        self.dispatcher.run(until=done, every=[self.autoscale, *([also] if also else [])])

    def bought_for_deadlines(self) -> tuple[str, list[dict[str, Any]]]:
        """The reasons of the first decision that launched on-demand nodes, and the decisions before it."""
        decisions = self.log.tail(1000)
        bought = next(i for i, d in enumerate(decisions) if d.get("launches", {}).get(ONDEMAND.name))
        return " | ".join(decisions[bought]["reasons"]), decisions[:bought]


@pytest.fixture
def head(cluster: FakeAutoscalingCluster, tmp_path: Path) -> Iterator[Head]:
    settings = Settings(
        store="redis", redis={"namespace": f"t-{uuid.uuid4().hex}"}, job_types=["tests.dispatcher.jobs:TYPES"]
    )
    scheduler = open_scheduler(settings)
    fleet = RayFleet([SPOT_A, SPOT_B, ONDEMAND], prices=lambda: dict.fromkeys(SPOT_TYPES, 0.03))
    log = DecisionLog(tmp_path / "log.jsonl")
    # no on-demand floor: the fleet has no on-demand node until the autoscaler buys one
    config = DispatcherConfig(ondemand_floor_slots=0)
    dispatcher = Dispatcher(scheduler, config, StoreSource.from_settings(settings), "spot-outage")
    below_top = dispatcher.ondemand_below_top
    scaler = Autoscaler(
        scheduler, fleet, POLICY, log, busy_slots, unplaced=dispatcher.unplaced, ondemand_below_top=below_top
    )
    key = f"ebbflow-test:{uuid.uuid4().hex}"
    try:
        yield Head(scheduler, fleet, dispatcher, scaler, log, key)
    finally:
        scheduler.store.purge()
        scheduler.store.close()
        jobs.forget(key)


def launched_ondemand(node_ids: set[str], before: set[str]) -> bool:
    """Every node is an on-demand node that was not there before."""
    resources = {node["NodeID"]: node["Resources"] for node in ray.nodes()}
    return not node_ids & before and all(node_type_resource(ONDEMAND) in resources[node] for node in node_ids)


def test_daily_jobs_finish_on_ondemand_nodes_launched_for_them_when_spot_is_out(
    cluster: FakeAutoscalingCluster, head: Head
) -> None:
    # given daily jobs with deadlines (12 of 2 s), no node at all, and no spot capacity
    cluster.refuse(SPOT_TYPES)
    nodes_before = {node["NodeID"] for node in ray.nodes()}
    due_ms = head.submit("t-market", 12, sleep=2.0)
    assert head.fleet.nodes() == []
    # when the dispatcher and the autoscaler run together
    head.run_until_settled()
    # then every job ran once, on on-demand, and finished before its deadline
    effects = jobs.effects(head.key)
    assert sorted(effects) == sorted(due_ms) and set(jobs.runs(head.key).values()) == {1}
    assert {effect["market"] for effect in effects.values()} == {Market.ON_DEMAND.value}
    late = {job: effect["end"] for job, effect in effects.items() if effect["end"] * 1000 >= (due_ms[job] or 0)}
    assert not late, (late, head.rounds)
    # on on-demand nodes launched after the test started: the autoscaler's
    assert launched_ondemand({effect["node"] for effect in effects.values()}, nodes_before)
    # for the daily level's deadlines, once no spot type could be launched (spot was asked for first)
    why, before = head.bought_for_deadlines()
    assert f"level {DAILY}:" in why and UNIFORM_PROGRESS in why and "no spot type can be launched" in why, why
    assert any(set(d.get("launches", {})) & set(SPOT_TYPES) for d in before)
    # and the plan that let the dispatcher put them there named their level
    assert any(DAILY in plan.levels for _, plan, _ in head.rounds)


def test_checkpointing_jobs_that_lose_spot_resume_on_ondemand(cluster: FakeAutoscalingCluster, head: Head) -> None:
    # given long daily jobs (4 of 8 s, checkpointing every 0.5 s) running on spot nodes the autoscaler launched
    nodes_before = {node["NodeID"] for node in ray.nodes()}
    due_ms = head.submit("t-steps", 4, sleep=8.0)
    lost: list[str] = []  # jobs that had checkpointed on spot when the market went

    def spot_goes_once_two_jobs_checkpointed() -> None:
        if lost:
            return
        ran_on = jobs.latest_node(head.key)  # (each run so far is on spot: no on-demand node was launched)
        saved = [job for job in ran_on if (head.scheduler.get(job).checkpoint or {}).get("done", 0) >= 2]
        if len(saved) < 2:
            return
        spot = {n.node_id for n in head.fleet.nodes() if n.node_type in SPOT_TYPES and n.state == "running"}
        assert set(ran_on.values()) <= spot, (ran_on, spot)
        # when every spot type loses its capacity: no launch succeeds, and the nodes up get their notice
        cluster.refuse(SPOT_TYPES)
        for node in spot:
            head.fleet.relay_interruption(node, deadline_s=30)
        lost.extend(saved)

    head.run_until_settled(also=spot_goes_once_two_jobs_checkpointed)
    # then the jobs caught on spot stopped at a checkpoint and resumed from it on on-demand
    effects = jobs.effects(head.key)
    runs = jobs.runs(head.key)
    assert sorted(effects) == sorted(due_ms) and len(lost) >= 2
    for job in lost:
        assert runs[job] == 2 and effects[job]["resumed_from"] >= 2, (job, runs, effects[job])
    # every job finished on on-demand nodes launched for the daily level's deadlines, in time
    assert {effect["market"] for effect in effects.values()} == {Market.ON_DEMAND.value}
    assert launched_ondemand({effect["node"] for effect in effects.values()}, nodes_before)
    late = {job: effect["end"] for job, effect in effects.items() if effect["end"] * 1000 >= (due_ms[job] or 0)}
    assert not late, (late, head.rounds)
    why, before = head.bought_for_deadlines()
    assert f"level {DAILY}:" in why and UNIFORM_PROGRESS in why and "no spot type can be launched" in why, why
    assert any(d.get("launches", {}).get(SPOT_A.name) or d.get("launches", {}).get(SPOT_B.name) for d in before)
