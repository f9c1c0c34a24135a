"""RayFleet against a real Ray head with the fake_multinode provider and autoscaler v2 (FakeAutoscalingCluster).

The cluster tests share one cluster and run in file order: each starts from the nodes the previous one left.
Timings measured on the 2-core machine are printed (`pytest -s`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
import ray
from ray.autoscaler.v2.schema import ClusterStatus, LaunchRequest
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from autoscaler import ray_fleet
from autoscaler.fake_cluster import FakeAutoscalingCluster
from autoscaler.fleet import FleetNode, NodeType
from autoscaler.ray_fleet import RayFleet
from dispatcher.cluster_base import process_table
from dispatcher.markets import Market

TYPES = [
    NodeType("spot-a", Market.SPOT, "m5.large", "zone-a", slots=2, ondemand_price=0.1, max_nodes=3),
    NodeType("spot-b", Market.SPOT, "m5.large", "zone-b", slots=2, ondemand_price=0.1, max_nodes=3),
    NodeType("ondemand", Market.ON_DEMAND, "m5.large", "zone-a", slots=2, ondemand_price=0.1, max_nodes=2),
]
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s} s: {what}")
        time.sleep(0.25)


def of_type(nodes: list[FleetNode], node_type: str, *states: str) -> list[FleetNode]:
    return [node for node in nodes if node.node_type == node_type and (not states or node.state in states)]


@ray.remote(num_cpus=0, resources={"spot": 1})
def busy(seconds: float) -> None:
    time.sleep(seconds)


def jobs_on(fleet: RayFleet, node_id: str) -> list[tuple[str, int]]:
    return [(node.state, node.running_jobs) for node in fleet.nodes() if node.node_id == node_id]


def settled(nodes: list[FleetNode]) -> list[FleetNode] | None:
    return nodes if all(node.state != "launching" for node in nodes) else None


@pytest.fixture(scope="module")
def cluster() -> Iterator[FakeAutoscalingCluster]:
    if ray.is_initialized():  # another module's driver
        ray.shutdown()
    fake = FakeAutoscalingCluster(TYPES)
    names: list[str] = []
    try:
        started = time.monotonic()
        fake.start()
        print(f"\nray start --head: {time.monotonic() - started:.1f} s")
        names += [fake.temp_dir, fake.address]
        ray.init(address=fake.address, configure_logging=False, log_to_driver=False)
        yield fake
    finally:
        ray.shutdown()
        fake.shutdown()
    left = [argv for argv in (a for _, a in process_table().values()) if any(n in arg for n in names for arg in argv)]
    assert left == [], "processes of the cluster left running"


@pytest.fixture(scope="module")
def fleet(cluster: FakeAutoscalingCluster) -> RayFleet:
    return RayFleet(TYPES)


def test_launch_starts_exactly_that_type(fleet: RayFleet) -> None:
    assert fleet.nodes() == []
    started = time.monotonic()
    fleet.launch("spot-a", 2, "launch-1")
    assert [node.state for node in of_type(fleet.nodes(), "spot-a")] == ["launching"] * 2  # at once
    running = wait_for(lambda: len(of_type(fleet.nodes(), "spot-a", "running")) == 2, 30, "2 running spot-a nodes")
    print(f"launch 0 -> 2 spot-a running: {time.monotonic() - started:.1f} s")
    assert running
    fleet.launch("spot-a", 2, "launch-1")  # the same request again: nothing more
    assert fleet.floors() == {"spot-a": 2, "spot-b": 0, "ondemand": 0}
    spot_a = {node.node_id for node in of_type(fleet.nodes(), "spot-a", "running")}

    started = time.monotonic()
    fleet.launch("spot-b", 1, "launch-2")
    wait_for(lambda: of_type(fleet.nodes(), "spot-b", "running"), 30, "a running spot-b node")
    print(f"launch 0 -> 1 spot-b running: {time.monotonic() - started:.1f} s")
    # Ray's pending list lags one autoscaler round behind a node coming up: wait for it to settle
    nodes = wait_for(lambda: settled(fleet.nodes()), 10, "no launching nodes left")
    time.sleep(2)  # nothing else comes
    assert fleet.nodes() == nodes
    assert {node.node_id for node in of_type(nodes, "spot-a")} == spot_a
    assert len(of_type(nodes, "spot-b")) == 1
    assert of_type(nodes, "ondemand") == []
    assert all(node.state == "running" and node.running_jobs == 0 for node in nodes)
    assert fleet.floors() == {"spot-a": 2, "spot-b": 1, "ondemand": 0}


def test_spot_tasks_run_on_the_fleets_spot_nodes(fleet: RayFleet) -> None:
    @ray.remote(num_cpus=0, resources={"spot": 1})
    def where() -> str:
        return str(ray.get_runtime_context().get_node_id())

    spot_nodes = {node.node_id for node in fleet.nodes() if node.node_type in ("spot-a", "spot-b")}
    assert len(spot_nodes) == 3
    assert set(ray.get([where.remote() for _ in range(6)], timeout=60)) <= spot_nodes


def test_drain_lets_the_job_finish_then_the_node_goes_and_is_not_replaced(fleet: RayFleet) -> None:
    victim, keeper = sorted(node.node_id for node in of_type(fleet.nodes(), "spot-a", "running"))
    ref = busy.options(scheduling_strategy=NodeAffinitySchedulingStrategy(victim, soft=False)).remote(3)
    wait_for(lambda: jobs_on(fleet, victim) == [("running", 1)], 10, "the job seen running")
    started = time.monotonic()
    fleet.drain([victim, "ab" * 28], "drain-1")  # an unknown node counts as done
    assert fleet.floors()["spot-a"] == 1
    assert jobs_on(fleet, victim) == [("draining", 1)]  # busy: Ray refused IDLE_TERMINATION, took PREEMPTION
    ray.get(ref, timeout=30)  # the job went on
    wait_for(lambda: jobs_on(fleet, victim) == [], 20, "the drained node gone")
    print(f"drain of a node with a 3 s job -> gone: {time.monotonic() - started:.1f} s")
    fleet.drain([victim], "drain-2")  # gone by now: done, and the floor stays
    assert fleet.floors()["spot-a"] == 1
    while time.monotonic() < started + 20:  # a replacement would come ~3 s after the drain
        spot_a = of_type(fleet.nodes(), "spot-a")
        assert [(node.node_id, node.state) for node in spot_a] == [(keeper, "running")]
        time.sleep(0.5)


def test_relay_interruption_marks_the_node_draining_and_keeps_the_floor(fleet: RayFleet) -> None:
    (target,) = of_type(fleet.nodes(), "spot-b", "running")
    ref = busy.options(scheduling_strategy=NodeAffinitySchedulingStrategy(target.node_id, soft=False)).remote(6)
    wait_for(lambda: jobs_on(fleet, target.node_id) == [("running", 1)], 10, "the job seen running")
    started = time.monotonic()
    fleet.relay_interruption(target.node_id, deadline_s=60)
    assert jobs_on(fleet, target.node_id) == [("draining", 1)]
    assert fleet.floors()["spot-b"] == 1  # kept: a replacement is wanted
    replacement = wait_for(
        lambda: of_type(fleet.nodes(), "spot-b", "running", "launching") or None, 5, "a replacement spot-b"
    )
    assert target.node_id not in {node.node_id for node in replacement}
    wait_for(lambda: of_type(fleet.nodes(), "spot-b", "running"), 20, "the replacement running")
    print(f"relay_interruption -> replacement running: {time.monotonic() - started:.1f} s")
    ray.get(ref, timeout=30)  # the interrupted job went on


def _fleet_without_ray(monkeypatch: pytest.MonkeyPatch, status: ClusterStatus) -> tuple[RayFleet, list[object]]:
    requests: list[object] = []
    fleet = RayFleet(TYPES, gcs_address="unused:1", prices=lambda: {"spot-a": 0.031, "ondemand": 0.1, "x": 1.0})
    monkeypatch.setattr(fleet, "_status", lambda: status)
    monkeypatch.setattr(fleet, "_request", lambda: requests.append(fleet.floors()))
    monkeypatch.setattr(ray_fleet, "_draining_node_ids", set)
    return fleet, requests


def test_quota_and_failed_launches_are_reported_once(monkeypatch: pytest.MonkeyPatch) -> None:
    status = ClusterStatus()
    fleet, requests = _fleet_without_ray(monkeypatch, status)
    fleet.launch("ondemand", 5, "big")
    fleet.launch("spot-a", 3, "three")
    assert requests == [{"spot-a": 0, "spot-b": 0, "ondemand": 2}, {"spot-a": 3, "spot-b": 0, "ondemand": 2}]
    assert [(e.node_type, e.kind, e.request_id) for e in fleet.poll_errors()] == [("ondemand", "quota", "big")]

    failed = LaunchRequest("", "spot-a", 1, LaunchRequest.Status.FAILED, 100, 105, "InsufficientInstanceCapacity")
    status.failed_launches = [failed, failed]
    errors = fleet.poll_errors()
    assert [(e.node_type, e.kind, e.at_s, e.request_id) for e in errors] == [("spot-a", "capacity", 105.0, "three")] * 2
    assert fleet.floors()["spot-a"] == 1  # those two are not coming
    assert requests[-1] == {"spot-a": 1, "spot-b": 0, "ondemand": 2}
    assert fleet.poll_errors() == []  # each reported once
    launching = [(node.node_type, node.state) for node in fleet.nodes()]
    assert sorted(launching) == [("ondemand", "launching")] * 2 + [("spot-a", "launching")]
    assert fleet.floors()["spot-a"] == 1

    fleet.drain(["requested:ondemand:1"], "cancel")  # a launching node: only the floor goes down
    assert fleet.floors()["ondemand"] == 1


def test_spot_prices_come_from_the_injected_source(monkeypatch: pytest.MonkeyPatch) -> None:
    fleet, _ = _fleet_without_ray(monkeypatch, ClusterStatus())
    assert fleet.spot_prices() == {"spot-a": 0.031}
    assert RayFleet(TYPES).spot_prices() == {}
