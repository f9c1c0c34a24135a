"""Deadlines before price, as tables: outage snapshots go in, the decision's markets come out. Spot gets
what it can deliver in time; on-demand what it cannot, for that level only; the rest waits for spot."""

from __future__ import annotations

import pytest

from autoscaler.config import AutoscalerConfig, GuardConfig
from autoscaler.decide import decide
from autoscaler.snapshot import Action
from tests.autoscaler.snapshots import T, error, node, snap, work

CONFIG = AutoscalerConfig(slack_confidence=0)  # no slack: the tables' arithmetic is the market choice alone
EVERY_ZONE_OUT = (error("spot-a"), error("spot-b"), error("spot-c"))
# 100 daily jobs queued (9,000 work-s, the oldest 60 s old) and 20 slots of daily work arriving per second
DAILY = work(1, 9000, pending=100, arrival_work_s=20.0, oldest_wait_s=60.0)
OD_1 = node("od-1", "od")


def test_with_every_zone_out_daily_work_is_bought_on_demand() -> None:
    decision = decide(snap(demand=(DAILY,), errors=EVERY_ZONE_OUT), CONFIG)
    # its stream (20 slots: a level that waits 15 minutes cannot wait out an outage) and its queue on uniform
    # progress: 9,000 work-s due to start within 840 s, capacity there after 360 s: 9000 / 480 = 18.75
    assert decision.ondemand_for == {1: pytest.approx(38.75)}
    assert decision.ondemand_levels == (1,)
    assert decision.launches == {"od": 10}  # 4 floor slots + 38.75: 11 nodes of 4, one is up
    reasons = " | ".join(decision.reasons)
    assert "no spot type can be launched" in reasons and "keep its queue on uniform progress" in reasons


def test_with_every_zone_out_background_work_waits_for_spot() -> None:
    background = work(3, 100_000, pending=400, arrival_work_s=50.0, oldest_wait_s=60.0)
    decision = decide(snap(demand=(background,), errors=EVERY_ZONE_OUT), CONFIG)
    assert decision.ondemand_for == {} and decision.ondemand_levels == ()
    assert "od" not in decision.launches  # due in hours: an outage may end first


def test_background_work_near_its_deadline_goes_on_demand_in_an_outage() -> None:
    # the oldest has waited 5 h 30 of its 6 h: within the hour of lookahead
    late = work(3, 100_000, pending=400, arrival_work_s=50.0, oldest_wait_s=19_800.0)
    decision = decide(snap(demand=(late,), errors=EVERY_ZONE_OUT), CONFIG)
    assert decision.ondemand_for.get(3, 0) > 0 and 3 in decision.ondemand_levels


def test_one_healthy_zone_keeps_the_work_on_spot() -> None:
    decision = decide(snap(demand=(DAILY,), errors=(error("spot-a"), error("spot-c"))), CONFIG)  # zone a out
    assert decision.ondemand_for == {} and set(decision.launches) == {"spot-b"}


def test_spot_nodes_up_take_what_they_can_in_an_outage() -> None:
    running = tuple(node(f"s{i}", "spot-b") for i in range(10))  # 40 slots: more than the 38.75 needed
    decision = decide(snap(demand=(DAILY,), errors=EVERY_ZONE_OUT, nodes=(OD_1, *running)), CONFIG)
    assert decision.ondemand_for == {}


def test_recent_reclaims_discount_the_spot_nodes_up() -> None:
    # 10 nodes up, 10 lost in the last hour: half an hour's worth of reclaims over the 840 s it waits
    running = tuple(node(f"s{i}", "spot-b") for i in range(10))
    snapshot = snap(demand=(DAILY,), errors=EVERY_ZONE_OUT, nodes=(OD_1, *running), preemptions={"spot-b": 10})
    decision = decide(snapshot, CONFIG)
    counted = 40 * (1 - 0.5 * 840 / 3600)
    assert decision.ondemand_for == {1: pytest.approx(38.75 - counted, abs=0.01)}


def test_on_demand_bought_in_an_outage_is_kept_until_spot_nodes_run() -> None:
    bought = tuple(node(f"od-{i}", "od") for i in range(11))
    long_ago = (Action(T - 3600, "launch", "od", 10),)
    # spot is back, but no spot node is up yet: launch spot, keep the on-demand nodes
    back = decide(snap(demand=(DAILY,), nodes=bought, actions=long_ago), CONFIG)
    assert back.drains == () and set(back.launches) <= {"spot-a", "spot-b"} and back.launches
    assert any("until spot running takes their work" in reason for reason in back.reasons)
    # once spot nodes run and take the work, the on-demand nodes beyond the floor go
    spot_up = tuple(node(f"s{i}", "spot-b") for i in range(12))
    settled = decide(snap(demand=(DAILY,), nodes=(*bought, *spot_up), actions=long_ago), CONFIG)
    assert sum(1 for d in settled.drains if d.startswith("od-")) == 10


def test_on_demand_is_not_drained_right_after_it_was_bought() -> None:
    bought = tuple(node(f"od-{i}", "od") for i in range(11))
    spot_up = tuple(node(f"s{i}", "spot-b") for i in range(12))
    recent = (Action(T - 300, "launch", "od", 10),)  # within ondemand_hold_s (600 s)
    drains = decide(snap(demand=(DAILY,), nodes=(*bought, *spot_up), actions=recent), CONFIG).drains
    assert not any(d.startswith("od-") for d in drains)


def test_a_type_whose_launch_hangs_counts_as_out_of_capacity() -> None:
    stuck = node("b-stuck", "spot-b", "launching", since=T - 1000)  # over launch_timeout_s (900 s)
    decision = decide(snap(demand=(DAILY,), nodes=(OD_1, stuck)), CONFIG)
    assert "spot-b" not in decision.launches
    assert any("still launching after 900 s" in reason for reason in decision.reasons)


def test_a_node_launched_after_a_zones_failure_clears_the_zone() -> None:
    up_since = node("b-new", "spot-b", "launching", since=T - 30)  # asked for after the failures at T - 60
    decision = decide(snap(demand=(DAILY,), errors=EVERY_ZONE_OUT, nodes=(OD_1, up_since)), CONFIG)
    assert decision.ondemand_for == {}  # zone b gave a node since: spot is there


def test_with_spot_there_only_jobs_too_close_to_their_start_go_on_demand() -> None:
    # daily jobs due to start within 600..900 s (they waited up to 300 s of their 900), one long one within
    # 100 s: that one alone cannot wait for a new spot node (300 s) and one lost run; the rest can
    pressing = work(1, 9000, pending=100, arrival_work_s=20.0, oldest_wait_s=300.0, min_slack_s=100.0)
    decision = decide(snap(demand=(pressing,)), CONFIG)
    assert decision.ondemand_for == {1: pytest.approx(90 / 60)}  # its 90 s of work, late: one round
    assert sum(n for name, n in decision.launches.items() if name.startswith("spot")) >= 8


def test_elastic_work_gets_only_the_budget_left_over() -> None:
    elastic = AutoscalerConfig(slack_confidence=0, elastic_levels=(3,))
    crawl = (work(3, 21_600 * 40, pending=400),)  # 40 slots' worth over 6 hours
    roomy = decide(snap(demand=crawl), elastic)
    assert roomy.need_slots and sum(n for name, n in roomy.launches.items() if name.startswith("spot")) > 0
    tight = AutoscalerConfig(slack_confidence=0, elastic_levels=(3,), guard=GuardConfig(budget_per_hour=0.19))
    starved = decide(snap(demand=crawl), tight)  # the on-demand floor (0.192/h) leaves nothing
    assert not any(name.startswith("spot") for name in starved.launches)
    assert any(reason.startswith("elastic:") for reason in starved.reasons)
