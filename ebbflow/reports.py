"""What the status and history commands show, computed from store snapshots (no rendering here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scheduler.history import TimingSummary, merge, summarize
from scheduler.store import HistoryBucket, QueueStats

MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class LevelStatus:
    level: int
    pending: int
    running: int
    oldest_wait_ms: int | None  # how long the oldest pending job has waited; None when none is pending


@dataclass(frozen=True, slots=True)
class HistoryRow:
    type: str
    level: int
    leased: int
    finished: int
    per_minute: float  # finished runs per minute since the first activity in the window
    wait: TimingSummary
    run: TimingSummary


def level_status(stats: QueueStats, levels: int, now_ms: int) -> list[LevelStatus]:
    """One row per level, configured or not: a store can hold levels a changed config no longer names."""
    seen = {level for level, _ in (*stats.pending, *stats.running)} | set(stats.oldest_enqueued_ms)
    rows = []
    for level in sorted(set(range(levels)) | seen):
        oldest = stats.oldest_enqueued_ms.get(level)
        rows.append(
            LevelStatus(
                level=level,
                pending=_sum_level(stats.pending, level),
                running=_sum_level(stats.running, level),
                oldest_wait_ms=None if oldest is None else max(0, now_ms - oldest),
            )
        )
    return rows


def type_counts(stats: QueueStats) -> list[tuple[int, str, int, int]]:
    """(level, type, pending, running) for every pair with any job, ordered by level then type."""
    keys = sorted(set(stats.pending) | set(stats.running))
    return [
        (level, job_type, stats.pending.get((level, job_type), 0), stats.running.get((level, job_type), 0))
        for level, job_type in keys
    ]


def history_rows(buckets: Iterable[HistoryBucket], since_ms: int, now_ms: int) -> list[HistoryRow]:
    """Buckets folded per (type, level), ordered by level then type."""
    groups: dict[tuple[int, str], list[HistoryBucket]] = {}
    for bucket in buckets:
        groups.setdefault((bucket.level, bucket.type), []).append(bucket)
    return [
        _history_row(job_type, level, group, since_ms, now_ms) for (level, job_type), group in sorted(groups.items())
    ]


def _history_row(job_type: str, level: int, group: list[HistoryBucket], since_ms: int, now_ms: int) -> HistoryRow:
    finished = sum(b.finished for b in group)
    # Rate over the time the queue was active in the window, at least a minute: a one-hour window that
    # saw a two-minute burst should not read as a trickle, nor a two-second burst as a flood.
    start_ms = max(since_ms, min(b.minute for b in group) * MINUTE_MS)
    minutes = max(now_ms - start_ms, MINUTE_MS) / MINUTE_MS
    return HistoryRow(
        type=job_type,
        level=level,
        leased=sum(b.leased for b in group),
        finished=finished,
        per_minute=finished / minutes,
        wait=summarize(merge(b.wait_hist for b in group)),
        run=summarize(merge(b.run_hist for b in group)),
    )


def _sum_level(counts: Mapping[tuple[int, str], int], level: int) -> int:
    return sum(count for (lvl, _), count in counts.items() if lvl == level)
