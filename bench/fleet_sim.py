"""The fleet simulator on the default synthetic week: our autoscaler against the baselines and the offline
lower bound, with the issue's targets checked, and how long one simulated week takes.

    python bench/fleet_sim.py [--jobs 1000000] [--seed 7] [--chart .ebbflow/bench-fleet-sim.png]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from autoscaler.simulate.bound import lower_bound
from autoscaler.simulate.chart import draw
from autoscaler.simulate.compare import POLICIES, Comparison, compare
from autoscaler.simulate.generate import generate_week
from autoscaler.simulate.reference import spot_floor_cost
from autoscaler.simulate.results import LevelSummary, SimResult
from ebbflow.render_simulate import comparison, policy_progress

console = Console(width=None if sys.stdout.isatty() else 160)


def targets(result: Comparison, ours: SimResult, seconds: float) -> list[tuple[str, str, bool]]:
    rows: list[tuple[str, str, bool]] = []
    if result.bound_cost:
        ratio = ours.total_cost / result.bound_cost
        rows.append(("cost / lower bound", f"{ratio:.2f}x (<= 1.15x)", ratio <= 1.15))
    if result.all_ondemand_cost:
        ratio = ours.total_cost / result.all_ondemand_cost
        rows.append(("cost / all on-demand", f"{ratio:.2f}x (<= 0.35x)", ratio <= 0.35))
    urgent = _level(ours, 0)
    if urgent is not None:
        rows.append(
            ("urgent started in time", f"{urgent.started_in_time:.3%} (>= 99.9%)", urgent.started_in_time >= 0.999)
        )
    missed, after_reclaim = _missed(ours)
    rows.append(("deadlines missed, urgent + daily", f"{missed} (0; {after_reclaim} after a reclaim)", missed == 0))
    for run in result.results:
        if run is ours:
            continue
        cheaper = ours.total_cost < run.total_cost
        as_good = _service(ours) >= _service(run)
        figure = f"${ours.total_cost:,.0f} vs ${run.total_cost:,.0f}; service {_describe(ours)} vs {_describe(run)}"
        rows.append((f"cheaper than {run.policy} at equal or better service", figure, cheaper and as_good))
    rows.append(("idle slack", f"{ours.idle_slack:.1%} (15%..30%)", 0.15 <= ours.idle_slack <= 0.30))
    rows.append(("simulate a week", f"{seconds:.1f} s (<= 60 s)", seconds <= 60))
    return rows


def _level(run: SimResult, level: int) -> LevelSummary | None:
    return next((summary for summary in run.levels if summary.level == level), None)


def _missed(run: SimResult) -> tuple[int, int]:
    top = [summary for summary in run.levels if summary.level in (0, 1)]
    return sum(s.deadline_missed for s in top), sum(s.missed_after_reclaim for s in top)


def _service(run: SimResult) -> tuple[float, int]:
    """What the targets ask of service, as a key that sorts better service higher: urgent jobs started
    within their target wait, then fewer deadlines missed at the urgent and daily levels."""
    urgent = _level(run, 0)
    return (round(urgent.started_in_time, 6) if urgent else 1.0, -_missed(run)[0])


def _describe(run: SimResult) -> str:
    started, missed = _service(run)
    return f"{started:.3%} urgent in time, {-missed} missed"


def floor_lines(result: Comparison, ours: SimResult, spot_floor: float) -> list[str]:
    """How the bound, the spot floor and our cost relate, and what idle slack alone costs."""
    if not (result.bound_cost and spot_floor > 0):
        return []
    bound = result.bound_cost
    least = spot_floor / (1 - ours.idle_slack)
    return [
        f"spot floor (every job at the cheapest spot slot on offer when it arrives, no slack): ${spot_floor:,.0f} "
        f"= {spot_floor / bound:.2f}x the bound (which may also wait for a cheaper hour); ours = "
        f"{ours.total_cost / spot_floor:.2f}x the spot floor",
        f"with {ours.idle_slack:.1%} idle slack, even a fleet always on the cheapest type, with no start-up, drain or "
        f"on-demand cost, pays the spot floor / (1 - idle) = ${least:,.0f} = {least / bound:.2f}x the bound; "
        f"1.15x the bound leaves room for {max(0.0, 1 - spot_floor / (1.15 * bound)):.1%} idle slack at most",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chart", default=".ebbflow/bench-fleet-sim.png")
    args = parser.parse_args()
    started = time.perf_counter()
    trace = generate_week(seed=args.seed, jobs=args.jobs)
    generated = time.perf_counter() - started
    bound_started = time.perf_counter()
    bound = lower_bound(trace)
    bound_s = time.perf_counter() - bound_started
    with policy_progress(console) as advance:
        result = compare(trace, POLICIES, bound=lambda _: float(bound.total_cost), progress=advance)
    console.print(comparison(result, f"default synthetic week: {len(trace.arrivals):,} jobs, seed {args.seed}"))
    ours = result.results[0]
    for line in floor_lines(result, ours, spot_floor_cost(trace)):
        console.print(line)
    for name, figure, met in targets(result, ours, ours.wall_s):
        console.print(f"{'met    ' if met else 'NOT met'}  {name}: {figure}")
    per_policy = ", ".join(f"{run.policy} {run.wall_s:.1f} s" for run in result.results)
    console.print(f"time: generate {generated:.1f} s, lower bound {bound_s:.1f} s, simulate a week: {per_policy}")
    console.print(f"chart: {draw([ours], args.chart)}")


if __name__ == "__main__":
    main()
