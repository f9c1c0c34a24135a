"""Policies compared on one trace, the day chart, and `ebbflow simulate` on trace files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from autoscaler.simulate.bound import lower_bound
from autoscaler.simulate.chart import draw
from autoscaler.simulate.compare import POLICIES, compare, make_policy
from autoscaler.simulate.generate import MARKET_SHAPES
from autoscaler.simulate.model import Trace
from autoscaler.simulate.traces import write_trace
from dispatcher.markets import Market
from ebbflow.cli import main
from tests.autoscaler.simulate.small import START, arrivals, market, random_day


@pytest.fixture(scope="module")
def day():
    return random_day(4000, seed=5)


def test_every_policy_runs_the_trace_and_none_beats_the_bound(day) -> None:
    bound = lower_bound(day).total_cost
    result = compare(day, POLICIES, bound=lambda _: bound)
    assert [run.policy for run in result.results] == [make_policy(name, day).name for name in POLICIES]
    for run in result.results:
        assert all(level.unfinished == 0 for level in run.levels), run.policy
        assert run.total_cost >= bound * 0.98, run.policy  # billing lags a price change by one period at most
    static = next(run for run in result.results if run.policy == "static peak on-demand")
    assert result.all_ondemand_cost == pytest.approx(static.total_cost)


def test_an_unknown_policy_is_refused(day) -> None:
    with pytest.raises(ValueError, match="not one of"):
        make_policy("cheapest", day)


def test_the_chart_is_drawn(day, tmp_path: Path) -> None:
    result = compare(day, ["ours"])
    out = draw(result.results, tmp_path / "chart.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_simulate_replays_trace_files(day, tmp_path: Path) -> None:
    types = tmp_path / "types.json"
    write_trace(day, tmp_path / "arrivals.csv", tmp_path / "spot.csv", types)
    args = ["simulate", "--arrivals", str(tmp_path / "arrivals.csv"), "--spot", str(tmp_path / "spot.csv")]
    args += ["--node-types", str(types), "--policy", "ours,demand", "--chart", str(tmp_path / "c.png")]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "offline lower bound" in result.output and "ebbflow" in result.output and "demand based" in result.output
    assert (tmp_path / "c.png").exists()


def test_simulate_names_a_bad_policy() -> None:
    result = CliRunner().invoke(main, ["simulate", "--policy", "ours,cheapest", "--no-bound"])
    assert result.exit_code == 2 and "cheapest" in result.output


def test_simulate_names_the_bad_line_of_a_trace_file(tmp_path: Path) -> None:
    bad = tmp_path / "arrivals.csv"
    bad.write_text("at_s,type,level,tenant,work_s,deadline_s\n0,a,urgent,t,10,\n5,a,urgent,t,-3,\n")
    result = CliRunner().invoke(main, ["simulate", "--arrivals", str(bad), "--no-bound", "--policy", "ours"])
    assert result.exit_code == 2
    assert "line 3" in result.output and "work_s" in result.output


def test_simulate_refuses_too_few_jobs_for_a_week() -> None:
    result = CliRunner().invoke(main, ["simulate", "--jobs", "10", "--no-bound"])
    assert result.exit_code == 2 and "--jobs" in result.output


def test_where_the_money_went_adds_up_to_the_bill(day) -> None:
    for run in compare(day, ["ours", "demand"]).results:
        went = run.money_went()
        assert all(part >= -1e-9 for part in went.values()), run.policy
        # sampled once a decision period: within a period's worth of the fleet of the metered bill
        assert sum(went.values()) == pytest.approx(run.total_cost, rel=0.03), run.policy
        ondemand = went["on-demand busy"] + went["on-demand not busy"]
        assert ondemand == pytest.approx(run.cost.get(Market.ON_DEMAND, 0.0)), run.policy
        assert 0 < run.idle_slack < 1


def test_simulate_prints_where_the_money_went_and_takes_a_warmup(day, tmp_path: Path) -> None:
    types = tmp_path / "types.json"
    write_trace(day, tmp_path / "arrivals.csv", tmp_path / "spot.csv", types)
    args = ["simulate", "--arrivals", str(tmp_path / "arrivals.csv"), "--spot", str(tmp_path / "spot.csv")]
    args += ["--node-types", str(types), "--policy", "ours", "--no-bound", "--chart", str(tmp_path / "c.png")]
    result = CliRunner().invoke(main, [*args, "--warmup", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "where the money went" in result.output and "above the cheapest type" in result.output
    refused = CliRunner().invoke(main, [*args, "--warmup", "-5"])
    assert refused.exit_code == 2 and "--warmup" in refused.output


def test_json_gives_every_policy_by_its_name_with_its_ratios(day, tmp_path: Path) -> None:
    types = tmp_path / "types.json"
    write_trace(day, tmp_path / "arrivals.csv", tmp_path / "spot.csv", types)
    args = ["simulate", "--arrivals", str(tmp_path / "arrivals.csv"), "--spot", str(tmp_path / "spot.csv")]
    args += ["--node-types", str(types), "--policy", "ours,uniform-progress", "--chart", str(tmp_path / "c.png")]
    result = CliRunner().invoke(main, [*args, "--json", str(tmp_path / "r.json")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["bound"]["cost"] > 0 and data["ondemand_autoscaled_cost"] > 0
    ours, baseline = data["policies"]
    assert (ours["name"], baseline["name"]) == ("ours", "uniform-progress")
    for key in ("cost", "cost_vs_bound", "cost_vs_ondemand_autoscaled", "idle_share", "urgent_within_target"):
        assert isinstance(ours[key], float), key
    assert ours["cost_vs_bound"] == pytest.approx(ours["cost"] / data["bound"]["cost"], rel=5e-3)  # rounded
    assert set(ours["missed"]) == set(ours["missed_impossible"]) == {"urgent", "daily", "weekly", "background"}
    assert ours["work_lost_h"] >= 0


def test_a_window_of_a_trace_file_is_replayed(day, tmp_path: Path) -> None:
    types = tmp_path / "types.json"
    write_trace(day, tmp_path / "arrivals.csv", tmp_path / "spot.csv", types)
    args = ["simulate", "--arrivals", str(tmp_path / "arrivals.csv"), "--spot", str(tmp_path / "spot.csv")]
    args += ["--node-types", str(types), "--policy", "ours", "--no-bound", "--chart", str(tmp_path / "c.png")]
    result = CliRunner().invoke(
        main, [*args, "--start", "21600", "--duration", "21600", "--json", str(tmp_path / "r.json")]
    )
    assert result.exit_code == 0, result.output
    described = json.loads((tmp_path / "r.json").read_text())["trace"]
    assert described["duration_s"] == 21600.0
    assert described["jobs"] == int(((day.arrivals.at_s >= 21600) & (day.arrivals.at_s < 43200)).sum())
    refused = CliRunner().invoke(main, [*args, "--start", "999999"])
    assert refused.exit_code == 2 and "--start" in refused.output


def test_the_harsh_market_is_a_choice_of_the_generated_week(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen = {}

    def generate_week(seed: int, jobs: int, shape):  # the generator itself has its own tests
        seen["shape"] = shape
        return random_day(500, seed=seed)

    monkeypatch.setattr("autoscaler.simulate.generate.generate_week", generate_week)
    args = ["simulate", "--market", "harsh", "--jobs", "500", "--policy", "ours", "--no-bound"]
    result = CliRunner().invoke(main, [*args, "--chart", str(tmp_path / "c.png")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert seen["shape"] is MARKET_SHAPES["harsh"] and "harsh market" in result.output


def test_the_market_baselines_serve_every_level_and_stay_above_the_bound(day) -> None:
    bound = lower_bound(day).total_cost
    result = compare(day, ["on-demand-autoscaled", "uniform-progress"])
    ondemand, uniform = result.results
    assert ondemand.cost.get(Market.SPOT, 0.0) == 0.0 and ondemand.total_cost >= bound
    assert all(level.unfinished == 0 for level in ondemand.levels)
    assert all(level.unfinished == 0 for level in uniform.levels) and uniform.total_cost >= bound * 0.98
    assert result.ondemand_autoscaled_cost == pytest.approx(ondemand.total_cost)


def test_checkpoints_of_a_trace_file_bound_the_work_a_reclaim_loses(tmp_path: Path) -> None:
    # background jobs of 600 s on spot, every spot node reclaimed each hour: checkpoints every 60 s lose less
    at = [20.0 * k for k in range(1080)]  # one every 20 s for 6 hours: 30 slots' worth
    waves = [(3600.0 * h, k, float("nan"), -1, 1.0) for h in (1, 2, 3, 4, 5) for k in (0, 1)]
    day = Trace(arrivals(at, [3] * len(at), [600.0] * len(at)), market(waves), 8 * 3600.0, START)
    types = tmp_path / "types.json"
    write_trace(day, tmp_path / "arrivals.csv", tmp_path / "spot.csv", types)
    args = ["simulate", "--arrivals", str(tmp_path / "arrivals.csv"), "--spot", str(tmp_path / "spot.csv")]
    args += ["--node-types", str(types), "--policy", "ours", "--no-bound", "--chart", str(tmp_path / "c.png")]
    (tmp_path / "every.json").write_text('{"job": 60}')
    lost = {}
    for name, extra in (("none", []), ("every 60 s", ["--checkpoints", str(tmp_path / "every.json")])):
        out = tmp_path / f"{len(extra)}.json"
        result = CliRunner().invoke(main, [*args, *extra, "--json", str(out)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        lost[name] = json.loads(out.read_text())["policies"][0]["work_lost_h"]
    assert lost["none"] > 0 and lost["every 60 s"] < lost["none"] / 2
    (tmp_path / "bad.json").write_text('{"job": -5}')
    refused = CliRunner().invoke(main, [*args, "--checkpoints", str(tmp_path / "bad.json")])
    assert refused.exit_code == 2 and "job: -5" in refused.output and "--checkpoints" in refused.output
