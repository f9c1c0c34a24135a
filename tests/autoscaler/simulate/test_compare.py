"""Policies compared on one trace, the day chart, and `ebbflow simulate` on trace files."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from autoscaler.simulate.bound import lower_bound
from autoscaler.simulate.chart import draw
from autoscaler.simulate.compare import POLICIES, compare, make_policy
from autoscaler.simulate.traces import write_trace
from ebbflow.cli import main
from tests.autoscaler.simulate.small import random_day


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
