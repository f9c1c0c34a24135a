"""The fleet simulator on the synthetic week: our autoscaler against every baseline and the offline lower bound,
on the default and the harsh spot market, for several seeds, with the targets checked and how long one
simulated week takes per policy.

    python bench/fleet_sim.py [--jobs 1000000] [--seeds 7,1,3] [--markets default,harsh] [--json out.json]

Each (market, seed) prints the comparison (cost, service per level, where the money went), the spot floor,
and the targets; the end prints one line per (market, seed) and whether every target held.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from autoscaler.simulate.bound import lower_bound
from autoscaler.simulate.chart import draw
from autoscaler.simulate.compare import POLICIES, Comparison, compare
from autoscaler.simulate.generate import MARKET_SHAPES, generate_week
from autoscaler.simulate.reference import spot_floor_cost
from autoscaler.simulate.results import LevelSummary, SimResult
from autoscaler.simulate.summary import summary
from ebbflow.render_simulate import comparison, policy_progress

console = Console(width=None if sys.stdout.isatty() else 160)
COST_TARGET = {"default": 1.25, "harsh": 1.35}  # our cost / the offline lower bound, at most
SERVED = (0, 1)  # the levels whose deadlines must hold: urgent and daily


def missed(run: SimResult, levels: tuple[int, ...] = SERVED) -> int:
    """Deadlines missed at these levels beyond those no policy could be sure to meet."""
    return sum(level.deadline_missed - level.missed_impossible for level in run.levels if level.level in levels)


def _level(run: SimResult, level: int) -> LevelSummary | None:
    return next((summary for summary in run.levels if summary.level == level), None)


def service(run: SimResult) -> tuple[float, int]:
    """What the targets ask of service, as a key that sorts better service higher: urgent jobs started
    within their target wait, then fewer urgent and daily deadlines missed (beyond the impossible ones)."""
    urgent = _level(run, 0)
    return (round(urgent.started_in_time, 4) if urgent else 1.0, -missed(run))


def _describe(run: SimResult) -> str:
    started, lost = service(run)
    return f"{started:.2%} urgent in time, {-lost} urgent+daily missed"


def targets(market: str, result: Comparison, ours: SimResult) -> list[tuple[str, str, bool]]:
    rows: list[tuple[str, str, bool]] = []
    if result.bound_cost:
        ratio, limit = ours.total_cost / result.bound_cost, COST_TARGET[market]
        rows.append(("cost / lower bound", f"{ratio:.2f}x (<= {limit:.2f}x)", ratio <= limit))
    urgent = _level(ours, 0)
    if urgent is not None:
        rows.append(
            ("urgent started in time", f"{urgent.started_in_time:.3%} (>= 99.9%)", urgent.started_in_time >= 0.999)
        )
    lost = missed(ours)
    impossible = sum(level.missed_impossible for level in ours.levels if level.level in SERVED)
    rows.append(
        ("urgent + daily deadlines missed", f"{lost} (0; {impossible} more no policy could be sure of)", lost == 0)
    )
    for run in result.results:
        if run is ours:
            continue
        ratio = ours.total_cost / run.total_cost
        keeps = service(run) >= service(ours)
        figure = f"{ratio:.2f}x; service {_describe(ours)} vs {_describe(run)}"
        if keeps:
            rows.append((f"cheaper than {run.policy} (same or better service)", figure, ratio < 1))
        else:
            rows.append((f"vs {run.policy} (worse service: not a peer)", figure, True))
    rows.append(
        (
            "simulate a week, slowest policy",
            f"{max(r.wall_s for r in result.results):.1f} s (<= 60 s)",
            max(r.wall_s for r in result.results) <= 60,
        )
    )
    return rows


def below_targets(ours: SimResult) -> str:
    """Weekly and background deadlines missed: reported, not targeted."""
    parts = []
    for level, name in ((2, "weekly"), (3, "background")):
        found = _level(ours, level)
        if found is not None:
            after = found.missed_after_reclaim
            parts.append(f"{name} {found.deadline_missed:,} of {found.deadlines:,} ({after:,} after a reclaim)")
    return "deadlines missed below the targets: " + ", ".join(parts)


def floor_line(result: Comparison, ours: SimResult, spot_floor: float) -> str:
    if not (result.bound_cost and spot_floor > 0):
        return ""
    return (
        f"spot floor (every job at the cheapest spot slot on offer when it arrives, no slack): ${spot_floor:,.0f} = "
        f"{spot_floor / result.bound_cost:.2f}x the bound (which may also wait for a cheaper hour); ours = "
        f"{ours.total_cost / spot_floor:.2f}x the spot floor"
    )


def run_one(market: str, seed: int, jobs: int, chart: str) -> tuple[dict[str, Any], list[tuple[str, str, bool]]]:
    started = time.perf_counter()
    trace = generate_week(seed=seed, jobs=jobs, shape=MARKET_SHAPES[market])
    generated = time.perf_counter() - started
    bound_started = time.perf_counter()
    bound = lower_bound(trace)
    bound_s = time.perf_counter() - bound_started
    with policy_progress(console) as advance:
        result = compare(trace, POLICIES, bound=lambda _: float(bound.total_cost), progress=advance)
    title = f"synthetic week, {market} market: {len(trace.arrivals):,} jobs, seed {seed}"
    console.print(comparison(result, title))
    ours = result.results[0]
    console.print(floor_line(result, ours, spot_floor_cost(trace)))
    console.print(below_targets(ours))
    checks = targets(market, result, ours)
    for name, figure, met in checks:
        console.print(f"{'met    ' if met else 'NOT met'}  {name}: {figure}")
    per_policy = ", ".join(f"{run.policy} {run.wall_s:.1f} s" for run in result.results)
    console.print(f"time: generate {generated:.1f} s, lower bound {bound_s:.1f} s, simulate a week: {per_policy}")
    console.print(f"chart: {draw([ours], chart.format(market=market, seed=seed))}")
    described = {"market": market, "seed": seed, "jobs": len(trace.arrivals), "bound_status": bound.status}
    return summary(result, described), checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--seeds", default="7,1,3", help="comma-separated seeds of the synthetic week")
    parser.add_argument("--markets", default="default,harsh", help="comma-separated: default, harsh")
    parser.add_argument("--chart", default=".ebbflow/bench-fleet-sim-{market}-{seed}.png")
    parser.add_argument("--json", help="write every comparison here as JSON")
    args = parser.parse_args()
    markets = [m.strip() for m in args.markets.split(",") if m.strip()]
    unknown = [m for m in markets if m not in MARKET_SHAPES]
    if unknown:
        parser.error(f"--markets: {', '.join(unknown)} unknown; use {', '.join(MARKET_SHAPES)}")
    seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    runs: list[dict[str, Any]] = []
    overview = Table(title="every run: ours against the targets")
    for column in (
        "market",
        "seed",
        "ours ÷ bound",
        "÷ on-demand autoscaled",
        "urgent in time",
        "missed u+d (impossible)",
        "weekly / background missed",
        "targets",
    ):
        overview.add_column(column)
    for market in markets:
        for seed in seeds:
            data, checks = run_one(market, seed, args.jobs, args.chart)
            runs.append(data)
            ours = data["policies"][0]
            served = sum(ours["missed"][name] for name in ("urgent", "daily"))
            impossible = sum(ours["missed_impossible"][name] for name in ("urgent", "daily"))
            overview.add_row(
                market,
                str(seed),
                f"{ours['cost_vs_bound']:.2f}x",
                f"{ours['cost_vs_ondemand_autoscaled']:.2f}x",
                f"{ours['urgent_within_target']:.3%}",
                f"{served} ({impossible})",
                f"{ours['missed']['weekly']} / {ours['missed']['background']}",
                "all met"
                if all(met for _, _, met in checks)
                else "NOT: " + "; ".join(n for n, _, met in checks if not met),
            )
    console.print(overview)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2) + "\n")
        console.print(f"json: {args.json}")


if __name__ == "__main__":
    main()
