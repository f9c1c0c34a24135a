"""`ebbflow simulate`: score policies on a trace (a generated week by default, or your own files)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ebbflow import render
from ebbflow.config import load_settings

if TYPE_CHECKING:
    from autoscaler.simulate.model import Trace

POLICY_HELP = (
    "ours, static-ondemand, static-spot, target-tracking, demand, on-demand-autoscaled, uniform-progress, "
    "or all (comma-separated)"
)


@click.command("simulate")
@click.option("--arrivals", type=click.Path(exists=True, dir_okay=False), help="arrivals trace (.csv or .jsonl)")
@click.option("--spot", type=click.Path(exists=True, dir_okay=False), help="spot market trace (.csv or .jsonl)")
@click.option(
    "--node-types",
    "node_types_file",
    type=click.Path(exists=True, dir_okay=False),
    help="node types file; default: autoscaler.node_types, else the generator's",
)
@click.option(
    "--checkpoints",
    "checkpoints_file",
    type=click.Path(exists=True, dir_okay=False),
    help="job type -> seconds between its checkpoints (.json or .toml); default: the generated week's own",
)
@click.option("--jobs", type=click.IntRange(min=1), default=1_000_000, show_default=True, help="generated week's jobs")
@click.option("--seed", type=int, default=7, show_default=True, help="generated week's seed")
@click.option(
    "--market",
    type=click.Choice(["default", "harsh"]),
    default="default",
    show_default=True,
    help="generated week's spot market; harsh: scarce zones, all-zone outages of hours, zone losses reclaim",
)
@click.option("--start", "start_s", type=click.FloatRange(min=0), help="replay the trace from this second on")
@click.option(
    "--duration", "duration_s", type=click.FloatRange(min=0, min_open=True), help="replay this many seconds of it"
)
@click.option("--policy", "policies", default="all", show_default=True, help=POLICY_HELP)
@click.option("--billing", type=click.Choice(["second", "hour"]), default="second", show_default=True)
@click.option("--bound/--no-bound", default=True, show_default=True, help="solve the offline lower bound (LP)")
@click.option(
    "--warmup",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    help="seconds of the trace's end replayed before it, so it starts on a running fleet (0: from nothing)",
)
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False), default="simulation.png", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="also write the results as JSON here")
@click.pass_context
def simulate(
    ctx: click.Context,
    arrivals: str | None,
    spot: str | None,
    node_types_file: str | None,
    checkpoints_file: str | None,
    jobs: int,
    seed: int,
    market: str,
    start_s: float | None,
    duration_s: float | None,
    policies: str,
    billing: str,
    bound: bool,
    warmup: float,
    chart_path: str,
    json_path: str | None,
) -> None:
    """Replay a trace through the autoscaler and the baselines; print cost and service, draw the chart."""
    from autoscaler.simulate.chart import draw
    from autoscaler.simulate.compare import POLICIES, compare
    from autoscaler.simulate.engine import SimConfig
    from ebbflow.render_simulate import comparison, policy_progress

    names = list(POLICIES) if policies == "all" else [p.strip() for p in policies.split(",") if p.strip()]
    unknown = [name for name in names if name not in POLICIES]
    if unknown or not names:
        choices = ", ".join(POLICIES)
        raise click.BadParameter(f"{', '.join(unknown) or 'none'}: use {choices} or all", param_hint="'--policy'")
    config_path = getattr(ctx.obj, "config_path", None)
    trace, title = _trace(config_path, arrivals, spot, node_types_file, jobs, seed, market)
    trace, title = _window(trace, title, start_s, duration_s)
    if checkpoints_file is not None:
        trace = _with_checkpoints(trace, checkpoints_file)
    console = render.make_console()
    with policy_progress(console) as advance:
        config = SimConfig(billing="hour" if billing == "hour" else "second", warmup_s=warmup)
        result = compare(trace, names, config, bound=_bound() if bound else None, progress=advance)
    console.print(comparison(result, title))
    console.print(f"chart: {draw(result.results, chart_path)}")
    if json_path is not None:
        from autoscaler.simulate.summary import summary

        described = {"title": title, "jobs": len(trace.arrivals), "duration_s": trace.duration_s, "billing": billing}
        Path(json_path).write_text(json.dumps(summary(result, described), indent=2) + "\n")
        console.print(f"json: {json_path}")


def _trace(
    config_path: str | None,
    arrivals: str | None,
    spot: str | None,
    node_types_file: str | None,
    jobs: int,
    seed: int,
    market: str,
) -> tuple[Trace, str]:
    from autoscaler.simulate.generate import MARKET_SHAPES, default_node_types, generate_week
    from autoscaler.simulate.traces import read_trace

    if arrivals is None:
        if spot is not None:
            raise click.BadParameter(
                "give --arrivals with --spot, or neither for a generated week", param_hint="'--spot'"
            )
        try:
            week = generate_week(seed=seed, jobs=jobs, shape=MARKET_SHAPES[market])
        except ValueError as err:  # too few jobs for the week's fixed waves and bursts
            raise click.BadParameter(str(err), param_hint="'--jobs'") from err
        return week, f"generated week, {market} market: {jobs:,} jobs, seed {seed}"
    types = node_types_file or load_settings(config_path).autoscaler.node_types or default_node_types()
    name = Path(arrivals).name + (f" + {Path(spot).name}" if spot else "")
    try:
        return read_trace(arrivals, spot, types), f"trace {name}"
    except ValueError as err:  # a TraceError names the file, line and column
        raise click.BadParameter(str(err), param_hint="'--arrivals' / '--spot' / '--node-types'") from err


def _window(trace: Trace, title: str, start_s: float | None, duration_s: float | None) -> tuple[Trace, str]:
    """The span asked for (a file's duration otherwise runs to its last event plus an hour, which a market
    file that ends with the week would replay as an empty hour in the warm-up)."""
    if start_s is None and duration_s is None:
        return trace, title
    from autoscaler.simulate.traces import window

    start = start_s or 0.0
    try:
        part = window(trace, start, duration_s)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--start' / '--duration'") from err
    return part, f"{title}, {part.duration_s / 3600:,.1f} h from {start / 3600:,.1f} h"


def _with_checkpoints(trace: Trace, path: str) -> Trace:
    from autoscaler.simulate.trace_checkpoints import read_checkpoints

    try:
        every = read_checkpoints(path)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--checkpoints'") from err
    return dataclasses.replace(trace, checkpoint_s=every)


def _bound() -> Callable[[Trace], float]:
    from autoscaler.simulate.bound import lower_bound

    return lambda trace: float(lower_bound(trace).total_cost)
