"""The simulator's comparison as a table: one row per policy, and the per-level service below it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from autoscaler.simulate.compare import Comparison

LEVEL_NAMES = ("urgent", "daily", "weekly", "background")
COST_COLUMNS = (
    "policy", "cost $", "÷ bound", "÷ on-demand autoscaled", "÷ all on-demand", "idle slack", "launches",
    "terminations", "reclaimed", "work lost h",
)  # fmt: skip
SERVICE_COLUMNS = (
    "policy",
    "level",
    "jobs",
    "started in time",
    "deadlines missed",
    "wait p50",
    "wait p99",
    "unfinished",
)


def _ratio(cost: float, base: float | None) -> str:
    return f"{cost / base:.2f}x" if base and math.isfinite(base) and base > 0 else "-"


@contextmanager
def policy_progress(console: Console) -> Iterator[Callable[[str, float], None]]:
    """A progress bar per policy simulated; yields the callback `compare` reports to."""
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bars: dict[str, TaskID] = {}

        def advance(name: str, share: float) -> None:
            if name not in bars:
                bars[name] = progress.add_task(f"simulating {name}", total=1.0)
            progress.update(bars[name], completed=share)

        yield advance


def comparison(result: Comparison, title: str) -> RenderableType:
    costs = Table(title=title)
    for column in COST_COLUMNS:
        costs.add_column(column, justify="left" if column == "policy" else "right")
    if result.bound_cost is not None:
        bound = result.bound_cost
        costs.add_row(
            "offline lower bound",
            f"{bound:,.2f}",
            "1.00x",
            _ratio(bound, result.ondemand_autoscaled_cost),
            _ratio(bound, result.all_ondemand_cost),
        )
    for run in result.results:
        costs.add_row(
            run.policy,
            f"{run.total_cost:,.2f}",
            _ratio(run.total_cost, result.bound_cost),
            _ratio(run.total_cost, result.ondemand_autoscaled_cost),
            _ratio(run.total_cost, result.all_ondemand_cost),
            f"{run.idle_slack:.0%}",
            f"{run.launches:,}",
            f"{run.terminations:,}",
            f"{run.reclaimed:,}",
            f"{run.work_lost_s / 3600:,.1f}",
        )
    service = Table(title="service per level: started within the target wait, deadlines missed, waits")
    for column in SERVICE_COLUMNS:
        service.add_column(column, justify="left" if column in ("policy", "level") else "right")
    for run in result.results:
        for level in run.levels:
            service.add_row(
                run.policy,
                LEVEL_NAMES[level.level] if level.level < len(LEVEL_NAMES) else str(level.level),
                f"{level.jobs:,}",
                f"{level.started_in_time:.3%}",
                _missed(level.deadline_missed, level.deadlines, level.missed_after_reclaim, level.missed_impossible),
                f"{level.wait_p50_s:,.0f} s",
                f"{level.wait_p99_s:,.0f} s",
                f"{level.unfinished:,}",
            )
    notes = Text(
        "on-demand autoscaled: the same need as ours on on-demand nodes only (what spot saves); all on-demand: the "
        "same load on a fixed on-demand fleet sized for the peak hour; idle slack: idle share of the slots of "
        "running and draining nodes; a deadline no policy could be sure of is sooner than the work plus the "
        "shortest start-up lag",
        style="dim",
    )
    return Group(costs, service, money(result), notes)


def money(result: Comparison) -> Table:
    """Where each policy's money went: spot slots by use, priced at the cheapest spot type of the moment,
    what the chosen types cost above that, and on-demand slots busy or not (idle, draining, starting)."""
    table = Table(title="where the money went, $ (spot slots priced at the cheapest spot type of the moment)")
    table.add_column("policy")
    parts = list(result.results[0].money_went()) if result.results else []
    for part in parts:
        table.add_column(part.removeprefix("spot "), justify="right")
    for run in result.results:
        went = run.money_went()
        total = sum(went.values()) or 1.0
        table.add_row(run.policy, *(f"{went[part]:,.0f} ({went[part] / total:.0%})" for part in parts))
    return table


def _missed(missed: int, deadlines: int, after_reclaim: int, impossible: int) -> str:
    text = f"{missed:,} of {deadlines:,}"
    notes = [f"{after_reclaim:,} after a reclaim"] * bool(after_reclaim)
    notes += [f"{impossible:,} no policy could be sure of"] * bool(impossible)
    return f"{text} ({'; '.join(notes)})" if notes else text
