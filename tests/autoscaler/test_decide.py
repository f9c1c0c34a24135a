"""decide as tables: a snapshot goes in, the whole decision (launches and drains) comes out."""

from __future__ import annotations

import dataclasses

import pytest

from autoscaler.config import AutoscalerConfig
from autoscaler.decide import decide
from autoscaler.snapshot import Action
from dispatcher.markets import Market
from tests.autoscaler.snapshots import PRICES, TYPES, T, error, node, snap, work

# The tables below do their arithmetic with 25% slack and spread over the two best types whatever their
# prices; the defaults' own values are tested where they matter.
CONFIG = AutoscalerConfig(target_slack=0.25, slack_confidence=0, spread_within=1.0, fan_out_s=21_600)


def plan(**changes):
    decision = decide(snap(**changes), CONFIG)
    return dict(decision.launches), list(decision.drains)


def test_an_empty_queue_with_the_floor_in_place_does_nothing():
    assert plan() == ({}, [])


def test_the_on_demand_floor_is_kept():
    assert plan(nodes=()) == ({"od": 1}, [])


def test_background_work_is_sized_to_its_horizon_plus_slack_over_two_types():
    # 21,600 s horizon: 172,800 work-s need 8 slots, 10 with 25% slack: 3 nodes of 4 slots over the two
    # cheapest per slot (spot-a 0.015, spot-b 0.016; spot-c's 0.017 is third)
    launches, drains = plan(demand=(work(3, 172_800),))
    assert launches == {"spot-a": 2, "spot-b": 1} and drains == []


def test_urgent_work_beyond_the_floor_goes_on_demand_when_no_spot_node_can_take_it_in_time():
    # 100 urgent jobs of 30 s must start within 60 s: capacity bought now arrives after the 300 s start-up lag
    # and a round, so they are late whatever is bought, and are given one round (60 s) once it is there:
    # 3000 / 60 = 50 slots, of which the idle floor (4 slots) takes 4; 46 x 1.25 on demand: 16 nodes in all
    assert plan(demand=(work(0, 3000),))[0] == {"od": 15}
    assert plan(demand=(work(0, 120),))[0] == {}  # 2 slots: the floor covers it


def test_urgent_work_beyond_the_floor_takes_idle_running_spot_slots_first():
    nodes = (node("od-1", "od"), node("a1"), node("a2"))  # 8 idle spot slots, up now
    decision = decide(snap(nodes=nodes, demand=(work(0, 3000),)), CONFIG)
    assert decision.ondemand_for == {0: pytest.approx(46 - 8)}  # the rest of the 46 above on demand
    assert decision.launches == {"od": 12}  # 4 + 38 x 1.25 = 51.5 slots: 13 nodes


def test_a_deadline_closer_than_the_horizon_shortens_it():
    far = decide(snap(demand=(work(3, 3600),)), CONFIG).need_slots[Market.SPOT]
    near = decide(snap(demand=(work(3, 3600, min_slack_s=600),)), CONFIG).need_slots[Market.SPOT]
    assert near == pytest.approx(far * 21600 / 600)


def test_launching_capacity_is_not_asked_for_twice():
    launching = tuple(node(f"s{i}", "spot-a", "launching", since=T - 30) for i in range(3))
    launches, drains = plan(nodes=(node("od-1", "od"), *launching), demand=(work(3, 172_800),))
    assert launches == {} and drains == []


def test_cheapest_per_slot_first_and_interruptions_cost_extra():
    two_slots = work(3, 21600 * 2 / 1.25)
    assert plan(demand=(two_slots,))[0] == {"spot-a": 1}
    # spot-a lost 3 nodes for its 1 running one in the last hour: now spot-b is the better buy
    fleet = (node("od-1", "od"), node("a1", "spot-a"))
    eight_slots = work(3, 21600 * 8 / 1.25)
    assert plan(demand=(eight_slots,), nodes=fleet)[0] == {"spot-a": 1}
    assert plan(demand=(eight_slots,), nodes=fleet, preemptions={"spot-a": 3})[0] == {"spot-b": 1}


def test_a_type_without_capacity_falls_back_to_an_equivalent_size():
    # the 4-slot types have no capacity: 8 slots come as four 2-slot nodes instead of two 4-slot ones
    errors = (error("spot-a"), error("spot-b"))
    assert plan(demand=(work(3, 21600 * 8 / 1.25),))[0] == {"spot-a": 1, "spot-b": 1}
    assert plan(demand=(work(3, 21600 * 8 / 1.25),), errors=errors)[0] == {"spot-c": 4}


def test_a_zone_whose_launches_fail_is_left():
    launches, _ = plan(demand=(work(3, 21600 * 8 / 1.25),), errors=(error("spot-c", "launch"),))
    assert set(launches) == {"spot-b"}  # spot-a and spot-c are both in us-east-1a


def test_a_spot_price_above_on_demand_is_left():
    launches, _ = plan(demand=(work(3, 21600 * 4 / 1.25),), spot_prices={"spot-a": 0.5, "spot-b": 0.064})
    assert launches == {"spot-b": 1}  # spot-c has no price, spot-a costs more than on demand


def test_old_errors_are_forgiven():
    launches, _ = plan(demand=(work(3, 21600 * 2 / 1.25),), errors=(error("spot-a", at=T - 3600),))
    assert launches == {"spot-a": 1}


def test_the_top_of_the_hour_is_anticipated():
    before_hour = T + 2760  # 4 minutes to the hour: within start-up lag + period
    launches, _ = plan(at_s=before_hour, inputs_at_s=before_hour, scheduled_work_s=300 * 4 / 1.25)
    assert sum(launches.values()) >= 1
    assert plan(scheduled_work_s=300 * 4 / 1.25)[0] == {}  # 50 minutes before: not yet


def test_a_spot_cap_limits_what_a_capped_type_can_ask_for():
    crawl = work(3, 10**9, "crawl", markets="spot", spot_cap_slots=4)
    assert decide(snap(demand=(crawl,)), CONFIG).need_slots[Market.SPOT] == pytest.approx(4 * 1.25)


def test_on_demand_only_work_grows_the_on_demand_pool():
    launches, _ = plan(demand=(work(1, 900 * 10, "billing", markets="on-demand"),))
    assert launches == {"od": 3}  # 10 slots x 1.25 = 12.5 -> 4 nodes of 4, one exists


def test_surplus_drains_the_least_busy_nodes_first():
    nodes = (
        node("od-1", "od"),
        node("a1", "spot-a", jobs=3),
        node("a2", "spot-a", jobs=0),
        node("b1", "spot-b", jobs=1),
    )
    launches, drains = plan(nodes=nodes, busy_slots={Market.SPOT: 4})
    # need 4 x 1.25 = 5 spot slots, have 12: one 4-slot node can go, the idle one
    assert launches == {} and drains == ["a2"]


def test_with_hourly_billing_the_node_nearest_its_paid_hour_goes_first():
    hourly = AutoscalerConfig(hourly_billing=True)
    nodes = (node("od-1", "od"), node("fresh", since=T - 600), node("old", since=T - 3300, jobs=1))
    decision = decide(snap(nodes=nodes, busy_slots={Market.SPOT: 1}), hourly)
    assert decision.drains == ("old",)


def test_nothing_is_drained_while_nodes_are_launching():
    nodes = (node("od-1", "od"), node("a1"), node("a2", state="launching"))
    assert plan(nodes=nodes, demand=(work(3, 21600 * 1),)) == ({}, [])


def test_the_decision_says_why():
    decision = decide(snap(demand=(work(3, 172_800),), errors=(error("spot-b"),)), CONFIG)
    text = " | ".join(decision.reasons)
    assert "slots short" in text and "spot-b: skipped" in text


@pytest.mark.parametrize("count", [0, 1, 5])
def test_actions_do_not_change_decide_only_guard(count):
    actions = tuple(Action(T - 10, "launch", "spot-a", 1) for _ in range(count))
    assert plan(demand=(work(3, 172_800),), actions=actions)[0] == {"spot-a": 2, "spot-b": 1}


def test_a_busy_fleet_with_a_queue_it_can_clear_does_not_grow():
    # 3 spot nodes (12 slots) all busy; the queue needs 8 x 1.25 = 10 slots over its horizon: enough already.
    # Counting the busy slots on top of the queue (or adding slack to them) would launch every round.
    nodes = (node("od-1", "od"), node("a1", jobs=4), node("a2", jobs=4), node("b1", "spot-b", jobs=4))
    assert plan(nodes=nodes, busy_slots={Market.SPOT: 12}, demand=(work(3, 21600 * 8),)) == ({}, [])
    # a queue that needs more than the fleet has grows it by the difference only
    launches, _ = plan(nodes=nodes, busy_slots={Market.SPOT: 12}, demand=(work(3, 21600 * 16),))
    assert launches == {"spot-a": 1, "spot-b": 1}  # 16 x 1.25 = 20 slots wanted, 12 there


def test_the_nodes_whose_jobs_end_soonest_are_drained_first():
    # one 4-slot node can go: not the one with a single job of another hour (its 3 idle slots would be
    # billed that long), but the one whose two jobs end within a minute
    nodes = (
        node("od-1", "od"),
        node("long", jobs=1, work_left=3600.0),
        node("short", jobs=2, work_left=50.0),
        node("b1", "spot-b", jobs=1, work_left=600.0),
    )
    assert plan(nodes=nodes, busy_slots={Market.SPOT: 4}) == ({}, ["short"])


def test_a_dear_type_is_drained_before_a_cheaper_one_when_its_jobs_end_soon():
    prices = {**PRICES, "spot-b": 0.128}  # spot-b spiked to twice its usual price
    nodes = (node("od-1", "od"), node("a1", jobs=1, work_left=30.0), node("b1", "spot-b", jobs=1, work_left=60.0))
    assert plan(nodes=nodes, busy_slots={Market.SPOT: 2}, spot_prices=prices)[1] == ["b1"]


def test_the_surplus_is_drained_only_past_the_margin():
    # need 4 x 1.25 = 5 slots; 8 are up (two nodes): one node is 3 slots more than needed, but within a
    # margin of 60% of the need nothing goes
    nodes = (node("od-1", "od"), node("a1", jobs=2, work_left=10.0), node("a2", jobs=2, work_left=10.0))
    assert plan(nodes=nodes, busy_slots={Market.SPOT: 4})[1] == []
    wide = AutoscalerConfig(
        target_slack=0.25, slack_confidence=0, fan_out_s=21_600, spread_within=1.0, drain_margin=0.6
    )
    assert decide(snap(nodes=nodes, busy_slots={Market.SPOT: 4}), wide).drains == ()


def test_new_nodes_spread_only_over_types_close_in_price():
    # spot-a 0.015 and spot-b 0.016 per slot are 6.7% apart: within 10% both take nodes, within 5% only
    # the cheaper one does
    eight_slots = (work(3, 21600 * 8 / 1.25),)
    close = AutoscalerConfig(target_slack=0.25, slack_confidence=0, fan_out_s=21_600, spread_within=0.1)
    assert decide(snap(demand=eight_slots), close).launches == {"spot-a": 1, "spot-b": 1}
    apart = AutoscalerConfig(target_slack=0.25, slack_confidence=0, fan_out_s=21_600, spread_within=0.05)
    assert decide(snap(demand=eight_slots), apart).launches == {"spot-a": 2}


def test_nodes_of_a_type_whose_price_spiked_are_replaced_then_drained():
    prices = {**PRICES, "spot-b": 0.2}  # 0.05 per slot against spot-a's 0.015: over 1.5x
    spiked = (node("od-1", "od"), node("b1", "spot-b", jobs=2, work_left=120.0))
    launches, drains = plan(nodes=spiked, busy_slots={Market.SPOT: 2}, spot_prices=prices)
    assert launches == {"spot-a": 1} and drains == []  # its replacement first
    replaced = (*spiked, node("a1", since=T - 60))
    assert plan(nodes=replaced, busy_slots={Market.SPOT: 2}, spot_prices=prices) == ({}, ["b1"])
    # a node with hours of work left stays: draining it would bill its idle slots longer than it saves
    busy = (node("od-1", "od"), node("b1", "spot-b", jobs=2, work_left=4 * 3600.0))
    assert plan(nodes=busy, busy_slots={Market.SPOT: 2}, spot_prices=prices) == ({}, [])


def test_a_shortfall_with_every_type_full_says_so() -> None:
    full = tuple(dataclasses.replace(t, max_nodes=1) for t in TYPES)
    nodes = (node("od-1", "od"), node("a", "spot-a"), node("b", "spot-b"), node("c", "spot-c"))
    decision = decide(snap(node_types=full, nodes=nodes, demand=(work(3, 1e6),)), CONFIG)
    assert decision.launches == {}
    assert any("launch nothing (every healthy type is at its max_nodes)" in r for r in decision.reasons)
