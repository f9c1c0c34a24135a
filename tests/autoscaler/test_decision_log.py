"""The decision log's entry: the chart's fields (depth per level, nodes per market, cost), and reading back."""

from __future__ import annotations

import json

import pytest

from autoscaler.decide import Decision
from autoscaler.decision_log import DecisionLog, entry
from autoscaler.fleet import NodeType
from dispatcher.markets import Market
from tests.autoscaler.snapshots import PRICES, TYPES, node, snap, work


def test_pending_is_summed_per_level_over_job_types():
    # given two types waiting at level 1 and one at level 3
    snapshot = snap(demand=(work(1, 10, "noop", pending=7), work(1, 10, "sleep", pending=5), work(3, 1, pending=2)))
    # then each level's pending jobs are added up, keyed by the level index as a string
    assert entry(snapshot, Decision(), acted=False)["pending_by_level"] == {"1": 12, "3": 2}


def test_no_demand_logs_no_levels():
    assert entry(snap(demand=()), Decision(), acted=False)["pending_by_level"] == {}


def test_nodes_are_counted_per_market_in_every_state_a_fleet_reports():
    # given launching, running and draining nodes of spot and on-demand types
    nodes = (
        node("od-1", "od"),
        node("a1", "spot-a", state="launching"),
        node("a2", "spot-a", state="draining"),
        node("b1", "spot-b"),
        node("c1", "spot-c", state="draining"),
    )
    logged = entry(snap(nodes=nodes), Decision(), acted=False)
    # then every one of them counts (each bills), under its type's market
    assert logged["nodes_by_market"] == {"spot": 4, "on-demand": 1}
    # and the cost is the spot price of each spot node plus the on-demand price of the on-demand one
    expected = 0.192 + 2 * PRICES["spot-a"] + PRICES["spot-b"] + PRICES["spot-c"]
    assert logged["cost_per_hour"] == pytest.approx(expected, abs=1e-4)


def test_a_spot_type_without_a_known_price_costs_its_on_demand_ceiling():
    nodes = (node("a1", "spot-a"), node("b1", "spot-b"))
    logged = entry(snap(nodes=nodes, spot_prices={"spot-b": 0.05}), Decision(), acted=False)
    assert logged["cost_per_hour"] == pytest.approx(0.192 + 0.05)


def test_a_node_of_an_unlisted_type_is_left_out():
    # given a node whose type the config no longer lists: its market and price are unknown
    logged = entry(snap(nodes=(node("od-1", "od"), node("x1", "gone-type"))), Decision(), acted=False)
    assert logged["nodes_by_market"] == {"spot": 0, "on-demand": 1}
    assert logged["cost_per_hour"] == pytest.approx(0.192)


def test_an_empty_fleet_costs_nothing_and_counts_both_markets():
    logged = entry(snap(nodes=()), Decision(), acted=False)
    assert logged["nodes_by_market"] == {"spot": 0, "on-demand": 0} and logged["cost_per_hour"] == 0


def test_an_entry_survives_the_log_as_json(tmp_path):
    # given an entry with every field, written and read back
    types = (*TYPES, NodeType("od-big", Market.ON_DEMAND, "m5.4xlarge", "us-east-1a", 16, 0.768))
    snapshot = snap(node_types=types, nodes=(node("big", "od-big"),), demand=(work(0, 5, pending=3),))
    written = entry(snapshot, Decision(launches={"spot-a": 1}, reasons=("queue",)), acted=True)
    log = DecisionLog(tmp_path / "log.jsonl")
    log.append(written)
    # then it reads back equal, the chart's fields included
    [read] = log.tail(5)
    assert read == json.loads(json.dumps(written)) == written
    assert (read["pending_by_level"], read["nodes_by_market"], read["cost_per_hour"]) == (
        {"0": 3},
        {"spot": 0, "on-demand": 1},
        0.768,
    )


def test_old_and_hold_lines_read_back_as_they_were(tmp_path):
    # given a log with a line from before the chart's fields, a hold line and a line cut short by a crash
    path = tmp_path / "log.jsonl"
    old = {"at": 1.0, "acted": False, "hold": None, "pending": 4, "nodes": {"od:running": 1}}
    hold = {"at": 2.0, "acted": False, "hold": "hold: inputs unavailable (OSError: down)"}
    path.write_text(json.dumps(old) + "\n" + json.dumps(hold) + "\n" + '{"at": 3.0, "ac')
    # then the whole lines come back unchanged, the broken one is skipped
    assert DecisionLog(path).tail(10) == [old, hold]


def test_an_on_demand_launch_logs_where_jobs_may_run_and_the_log_shows_its_deadline_reasoning(tmp_path):
    from rich.console import Console

    from autoscaler.config import AutoscalerConfig
    from autoscaler.decide import decide
    from ebbflow.render_autoscaler import decision_log
    from tests.autoscaler.snapshots import error, work

    outage = snap(
        demand=(work(1, 9000, pending=100, arrival_work_s=20.0, oldest_wait_s=60.0),),
        errors=(error("spot-a"), error("spot-b"), error("spot-c")),
    )
    decision = decide(outage, AutoscalerConfig(slack_confidence=0))
    log = DecisionLog(tmp_path / "log.jsonl")
    log.append(entry(outage, decision, acted=True))
    [line] = log.tail(1)
    assert line["ondemand_levels"] == [1] and line["ondemand_for"] == {"1": 38.75} and line["launches"] == {"od": 10}
    console = Console(width=400, record=True)
    console.print(decision_log([line]))
    shown = console.export_text()
    assert "L1: 38.8" in shown and "deadlines, level 1" in shown and "no spot type can be launched" in shown
