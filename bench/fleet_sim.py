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
from autoscaler.simulate.results import SimResult
from ebbflow.render_simulate import comparison

console = Console(width=None if sys.stdout.isatty() else 160)


def targets(result: Comparison, ours: SimResult) -> list[tuple[str, str, bool]]:
    rows: list[tuple[str, str, bool]] = []
    if result.bound_cost:
        ratio = ours.total_cost / result.bound_cost
        rows.append(("cost / lower bound", f"{ratio:.2f}x (<= 1.15x)", ratio <= 1.15))
    if result.all_ondemand_cost:
        ratio = ours.total_cost / result.all_ondemand_cost
        rows.append(("cost / all on-demand", f"{ratio:.2f}x (<= 0.35x)", ratio <= 0.35))
    urgent = next((level for level in ours.levels if level.level == 0), None)
    if urgent is not None:
        rows.append(
            ("urgent started in time", f"{urgent.started_in_time:.3%} (>= 99.9%)", urgent.started_in_time >= 0.999)
        )
    missed = sum(level.deadline_missed for level in ours.levels if level.level in (0, 1))
    rows.append(("deadlines missed, urgent + daily", f"{missed} (0)", missed == 0))
    others = [run for run in result.results if run.policy != ours.policy]
    cheaper = all(ours.total_cost < run.total_cost for run in others)
    rows.append(("cheaper than every baseline", "yes" if cheaper else "no", cheaper))
    rows.append(("idle slack", f"{ours.idle_slack:.0%} (15%..30%)", 0.15 <= ours.idle_slack <= 0.30))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chart", default=".ebbflow/bench-fleet-sim.png")
    args = parser.parse_args()
    started = time.perf_counter()
    trace = generate_week(seed=args.seed, jobs=args.jobs)
    generated = time.perf_counter() - started
    seconds: dict[str, float] = {}
    began: dict[str, float] = {}

    def timing(name: str, share: float) -> None:
        began.setdefault(name, time.perf_counter())
        seconds[name] = time.perf_counter() - began[name]

    bound_started = time.perf_counter()
    bound = lower_bound(trace)
    bound_s = time.perf_counter() - bound_started
    result = compare(trace, POLICIES, bound=lambda _: float(bound.total_cost), progress=timing)
    console.print(comparison(result, f"default synthetic week: {len(trace.arrivals):,} jobs, seed {args.seed}"))
    ours = result.results[0]
    for name, figure, met in targets(result, ours):
        console.print(f"{'met    ' if met else 'NOT met'}  {name}: {figure}")
    per_policy = ", ".join(f"{name} {s:.1f} s" for name, s in seconds.items())
    console.print(
        f"time: generate {generated:.1f} s, lower bound {bound_s:.1f} s, simulate a week: {per_policy} (<= 60 s)"
    )
    console.print(f"chart: {draw([ours], args.chart)}")


if __name__ == "__main__":
    main()
