"""A comparison as plain data, for scripts and dashboards (`ebbflow simulate --json`, `bench/fleet_sim.py`).

One entry per policy, under the name `--policy` takes: its cost, its ratios to the offline lower bound and
to the on-demand autoscaled yardstick, its idle share, the urgent level's share started within target, the
deadlines missed per level and, of those, the ones no policy could have been sure to meet (the deadline is
sooner than the work plus the shortest start-up lag), the work lost to reclaims, and where its money went.
"""

from __future__ import annotations

import math
from typing import Any

from autoscaler.simulate.compare import Comparison
from autoscaler.simulate.results import SimResult

LEVEL_NAMES = ("urgent", "daily", "weekly", "background")


def summary(result: Comparison, trace: dict[str, Any] | None = None) -> dict[str, Any]:
    """The comparison as JSON-ready data; `trace` describes what was replayed (kept as given)."""
    return {
        "trace": trace or {},
        "bound": {"cost": _number(result.bound_cost)},
        "all_ondemand_cost": _number(result.all_ondemand_cost),
        "ondemand_autoscaled_cost": _number(result.ondemand_autoscaled_cost),
        "policies": [policy(name, run, result) for name, run in zip(result.names, result.results, strict=True)],
    }


def policy(name: str, run: SimResult, result: Comparison) -> dict[str, Any]:
    urgent = next((level for level in run.levels if level.level == 0), None)
    return {
        "name": name,
        "title": run.policy,
        "cost": round(run.total_cost, 2),
        "cost_vs_bound": _ratio(run.total_cost, result.bound_cost),
        "cost_vs_ondemand_autoscaled": _ratio(run.total_cost, result.ondemand_autoscaled_cost),
        "cost_vs_all_ondemand": _ratio(run.total_cost, result.all_ondemand_cost),
        "idle_share": round(run.idle_slack, 4),
        "urgent_within_target": None if urgent is None else round(urgent.started_in_time, 6),
        "missed": {_level_name(level.level): level.deadline_missed for level in run.levels},
        "missed_impossible": {_level_name(level.level): level.missed_impossible for level in run.levels},
        "missed_after_reclaim": {_level_name(level.level): level.missed_after_reclaim for level in run.levels},
        "started_within_target": {_level_name(level.level): round(level.started_in_time, 6) for level in run.levels},
        "work_lost_h": round(run.work_lost_s / 3600, 2),
        "launches": run.launches,
        "reclaimed": run.reclaimed,
        "money": {part: round(cost, 2) for part, cost in run.money_went().items()},
        "wall_s": round(run.wall_s, 2),
    }


def _level_name(level: int) -> str:
    return LEVEL_NAMES[level] if level < len(LEVEL_NAMES) else str(level)


def _ratio(cost: float, base: float | None) -> float | None:
    if base is None or not (math.isfinite(base) and base > 0):
        return None
    return round(cost / base, 4)


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 2)
