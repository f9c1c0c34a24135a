"""The MLFQ moves, as a pure function: what the store holds now in, level changes with reasons out.

Rule 1 (strict priority) and rule 2 (round robin between tenants, FIFO per tenant) are the store's serve
order. This module decides the other three:

3. demotion: a tenant that used more run-seconds at a level than its allotment within the window has its
   pending and further jobs there demoted one level until the window ends;
4. aging: a job that waited longer than the max waits of the levels it passed through moves up one level
   (so a background job climbs one level per max wait, not all at once);
5. deadline promotion: a job whose deadline slack (time left once it has run) is below its expected run
   time moves to the top level: one lost run (a reclaimed spot node) and it would miss, so it goes
   first, and may use the on-demand slots kept for the top level, which no reclaim takes. Jobs expected
   to run longer than `promote_max_run_s` are left where they are: they would hold that headroom.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scheduler.config import SchedulerConfig
from scheduler.store import Demotion, WaitingJob

DEFAULT_EXPECTED_RUN_MS = 1000.0  # for a type neither history nor the registry knows


@dataclass(frozen=True, slots=True)
class PolicyInput:
    now_ms: int
    usage_ms: Mapping[tuple[int, str], int]  # run ms per (level, tenant) within the demotion window
    demotions: Sequence[Demotion]  # in force now
    waiting: Sequence[WaitingJob]  # aging candidates: pending longer than their level's max wait
    due: Sequence[WaitingJob]  # pending jobs whose deadline is near
    expected_run_ms: Mapping[str, float]  # per job type


@dataclass(frozen=True, slots=True)
class PlannedMove:
    job_id: str
    from_level: int
    to_level: int
    reason: str


@dataclass(frozen=True, slots=True)
class PlannedDemotion:
    tenant: str
    level: int
    to_level: int
    until_ms: int
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    demotions: tuple[PlannedDemotion, ...]
    moves: tuple[PlannedMove, ...]


def plan(data: PolicyInput, config: SchedulerConfig) -> Plan:
    promoted = _deadline_promotions(data, config)
    moved = {move.job_id for move in promoted}
    aged = tuple(move for move in _aging(data, config) if move.job_id not in moved)
    return Plan(demotions=_demotions(data, config), moves=promoted + aged)


def _demotions(data: PolicyInput, config: SchedulerConfig) -> tuple[PlannedDemotion, ...]:
    active = {(d.level, d.tenant) for d in data.demotions}
    window_s = config.demotion_window_s
    out = []
    for (level, tenant), used_ms in sorted(data.usage_ms.items()):
        allotment_s = config.levels[level].allotment_s
        if allotment_s is None or level + 1 >= len(config.levels) or (level, tenant) in active:
            continue
        if used_ms > allotment_s * 1000:
            reason = (
                f"tenant used {_seconds(used_ms)} run-s at {config.level_name(level)} in the last "
                f"{_seconds(window_s * 1000)} s; allotment {_seconds(allotment_s * 1000)} s"
            )
            out.append(PlannedDemotion(tenant, level, level + 1, data.now_ms + round(window_s * 1000), reason))
    return tuple(out)


def aging_threshold_ms(level: int, submitted_level: int | None, config: SchedulerConfig) -> float | None:
    """How long a job must have waited since it was queued to leave `level` upwards: the max waits of
    every level from its submitted level up to this one. None: jobs never age out of this level."""
    if level == 0 or config.levels[level].max_wait_s is None:
        return None
    lowest = max(level, level if submitted_level is None else submitted_level)
    return sum(config.levels[lvl].max_wait_s or 0 for lvl in range(level, lowest + 1)) * 1000


def _aging(data: PolicyInput, config: SchedulerConfig) -> tuple[PlannedMove, ...]:
    out = []
    for job in data.waiting:
        threshold = aging_threshold_ms(job.level, job.submitted_level, config)
        waited = data.now_ms - job.enqueued_ms
        if threshold is not None and waited > threshold:
            allowed = f"{_seconds(threshold)} s allowed by {config.level_name(job.level)}"
            reason = f"aging: waited {_seconds(waited)} s > {allowed}"
            out.append(PlannedMove(job.job_id, job.level, job.level - 1, reason))
    return tuple(out)


def _deadline_promotions(data: PolicyInput, config: SchedulerConfig) -> tuple[PlannedMove, ...]:
    longest = math.inf if config.promote_max_run_s is None else config.promote_max_run_s * 1000
    out = []
    for job in data.due:
        if job.deadline_ms is None or job.level == 0:
            continue
        expected = data.expected_run_ms.get(job.type, DEFAULT_EXPECTED_RUN_MS)
        if expected > longest:
            continue
        slack = job.deadline_ms - data.now_ms - expected
        if slack < expected:
            reason = f"deadline: slack {_seconds(slack)} s < expected run {_seconds(expected)} s"
            out.append(PlannedMove(job.job_id, job.level, 0, reason))
    return tuple(out)


def _seconds(ms: float) -> str:
    """Milliseconds as seconds for a reason text: 0.25, 12, 3,600."""
    return f"{ms / 1000:,.3f}".rstrip("0").rstrip(".")
