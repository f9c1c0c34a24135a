"""The simulator's comparison as a table: one row per policy, and the per-level service below it."""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from autoscaler.simulate.compare import Comparison

LEVEL_NAMES = ("urgent", "daily", "weekly", "background")
COST_COLUMNS = (
    "policy", "cost $", "÷ bound", "÷ all on-demand", "idle slack", "launches", "terminations", "reclaimed",
    "work lost h",
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


def comparison(result: Comparison, title: str) -> RenderableType:
    costs = Table(title=title)
    for column in COST_COLUMNS:
        costs.add_column(column, justify="left" if column == "policy" else "right")
    if result.bound_cost is not None:
        bound = result.bound_cost
        costs.add_row("offline lower bound", f"{bound:,.2f}", "1.00x", _ratio(bound, result.all_ondemand_cost))
    for run in result.results:
        costs.add_row(
            run.policy,
            f"{run.total_cost:,.2f}",
            _ratio(run.total_cost, result.bound_cost),
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
                f"{level.deadline_missed:,} of {level.deadlines:,}",
                f"{level.wait_p50_s:,.0f} s",
                f"{level.wait_p99_s:,.0f} s",
                f"{level.unfinished:,}",
            )
    notes = Text("all on-demand: the same load on a fixed on-demand fleet sized for the peak hour", style="dim")
    return Group(costs, service, notes)
