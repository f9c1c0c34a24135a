"""guard: tables for each rule, and a property test that no snapshot, however wrong, gets past a limit."""

from __future__ import annotations

import dataclasses
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoscaler.config import AutoscalerConfig, GuardConfig
from autoscaler.decide import Decision, decide
from autoscaler.guard import guard
from autoscaler.snapshot import Action, Demand
from dispatcher.markets import Market
from tests.autoscaler.snapshots import OD, PRICES, TYPES, T, node, snap, work

CONFIG = AutoscalerConfig()


def guarded(decision: Decision, config: AutoscalerConfig = CONFIG, **changes) -> Decision:
    return guard(decision, snap(**changes), config)


def test_stale_inputs_hold_everything():
    decision = Decision(launches={"spot-a": 2}, drains=("od-1",))
    held = guarded(decision, inputs_at_s=T - 600)
    assert held.launches == {} and held.drains == () and "600 s old" in (held.hold or "")


def test_absurd_inputs_hold():
    for bad in (work(3, -5), work(3, math.nan), work(3, 1.0, pending=-1), work(3, 1e15)):
        assert guarded(Decision(launches={"spot-a": 1}), demand=(bad,)).hold is not None


def test_a_clock_in_the_future_holds():
    assert "future" in (guarded(Decision(launches={"spot-a": 1}), inputs_at_s=T + 3600).hold or "")


def test_launches_per_decision_are_capped_cheapest_first():
    config = AutoscalerConfig(guard=GuardConfig(max_launch_per_decision=3))
    result = guarded(Decision(launches={"spot-a": 3, "spot-c": 3}), config)
    assert result.launches == {"spot-c": 3}  # spot-c costs 0.034/h a node, spot-a 0.06
    assert any("per decision" in clamp for clamp in result.clamps)


def test_launches_per_hour_count_earlier_ones():
    config = AutoscalerConfig(guard=GuardConfig(max_launch_per_hour=5))
    earlier = (Action(T - 1200, "launch", "spot-a", 4), Action(T - 4000, "launch", "spot-a", 50))
    assert guarded(Decision(launches={"spot-a": 3}), config, actions=earlier).launches == {"spot-a": 1}


def test_global_and_per_type_node_limits():
    config = AutoscalerConfig(guard=GuardConfig(max_nodes=3))
    assert guarded(Decision(launches={"spot-a": 5}), config).launches == {"spot-a": 2}  # od-1 is one
    small = [dataclasses.replace(t, max_nodes=1) if t.name == "spot-b" else t for t in TYPES]
    result = guard(Decision(launches={"spot-b": 4}), snap(node_types=tuple(small)), CONFIG)
    assert result.launches == {"spot-b": 1}


def test_the_budget_per_hour_holds():
    config = AutoscalerConfig(guard=GuardConfig(budget_per_hour=0.4))  # od-1 costs 0.192/h
    assert guarded(Decision(launches={"spot-a": 10}), config).launches == {"spot-a": 3}


def test_cooldowns_between_opposite_actions():
    after_drain = (Action(T - 10, "drain", "spot-a", 1),)
    assert guarded(Decision(launches={"spot-a": 1}), actions=after_drain).launches == {}
    after_launch = (Action(T - 10, "launch", "spot-a", 1),)
    nodes = (node("od-1", "od"), node("a1"))
    assert guarded(Decision(drains=("a1",)), actions=after_launch, nodes=nodes).drains == ()
    assert guarded(Decision(drains=("a1",)), nodes=nodes).drains == ("a1",)


def test_the_on_demand_floor_is_never_drained():
    result = guarded(Decision(drains=("od-1",)))
    assert result.drains == () and any("floor" in clamp for clamp in result.clamps)


def test_unknown_types_and_nodes_are_refused():
    result = guarded(Decision(launches={"gpu-x": 2}, drains=("ghost",)))
    assert result.launches == {} and result.drains == ()
    assert len(result.clamps) == 2


# -- property: whatever the snapshot, the guarded decision stays inside every limit ---------------------

numbers = st.floats(allow_nan=True, allow_infinity=True, width=32)
demands = st.builds(
    Demand,
    level=st.integers(0, 3),
    job_type=st.sampled_from(["noop", "crawl", "billing"]),
    pending=st.integers(-10, 10**12),
    work_s=numbers,
    min_slack_s=st.none() | numbers,
    markets=st.sampled_from([None, "spot", "on-demand", "any"]),
    spot_cap_slots=st.none() | st.integers(0, 50),
)
nodes = st.lists(
    st.builds(
        node,
        node_id=st.uuids().map(str),
        node_type=st.sampled_from([t.name for t in TYPES]),
        state=st.sampled_from(["launching", "running", "draining"]),
        since=st.floats(T - 10_000, T),
        jobs=st.integers(0, 8),
    ),
    max_size=30,
)
limits = st.builds(
    GuardConfig,
    max_nodes=st.integers(0, 40),
    budget_per_hour=st.floats(0, 5),
    max_launch_per_decision=st.integers(0, 10),
    max_launch_per_hour=st.integers(0, 30),
)
actions = st.lists(
    st.builds(
        Action,
        at_s=st.floats(T - 7200, T),
        kind=st.sampled_from(["launch", "drain"]),
        node_type=st.sampled_from([t.name for t in TYPES]),
        count=st.integers(0, 20),
    ),
    max_size=10,
)


def hourly_price(name: str, prices: dict[str, float]) -> float:
    ceiling = next(t.ondemand_price for t in TYPES if t.name == name)
    price = prices.get(name, ceiling) if name != OD.name else ceiling
    return price if math.isfinite(price) and price >= 0 else ceiling


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    demand=st.lists(demands, max_size=6),
    fleet=nodes,
    guard_config=limits,
    history=actions,
    busy=st.integers(-3, 500),
    age=numbers,
    prices=st.dictionaries(st.sampled_from(list(PRICES)), numbers),
)
def test_no_snapshot_gets_a_decision_past_any_guard(demand, fleet, guard_config, history, busy, age, prices):
    config = AutoscalerConfig(guard=guard_config)
    snapshot = snap(
        demand=tuple(demand),
        nodes=tuple(fleet),
        actions=tuple(history),
        busy_slots={Market.SPOT: busy},
        inputs_at_s=T - age if math.isfinite(age) else age,
        spot_prices=prices,
    )
    result = guard(decide(snapshot, config), snapshot, config)
    launched = sum(result.launches.values())
    if result.hold is not None:
        assert launched == 0 and result.drains == ()
        return
    assert launched <= guard_config.max_launch_per_decision
    assert launched + sum(a.count for a in history if a.kind == "launch" and T - a.at_s < 3600) <= max(
        guard_config.max_launch_per_hour, sum(a.count for a in history if a.kind == "launch" and T - a.at_s < 3600)
    )
    if launched:
        assert len(fleet) + launched <= guard_config.max_nodes
        cost = sum(hourly_price(n.node_type, prices) for n in fleet)
        added = sum(hourly_price(name, prices) * count for name, count in result.launches.items())
        assert cost + added <= guard_config.budget_per_hour + 1e-9
    for name, count in result.launches.items():
        limit = next(t.max_nodes for t in TYPES if t.name == name)
        assert sum(1 for n in fleet if n.node_type == name) + count <= limit
    live_od = sum(1 for n in fleet if n.node_type == "od" and n.state != "draining")
    drained_od = sum(1 for d in result.drains for n in fleet if n.node_id == d and n.node_type == "od")
    assert drained_od == 0 or live_od - drained_od >= config.min_ondemand_nodes
    assert not (result.drains and launched)
