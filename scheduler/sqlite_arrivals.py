"""The SQLite store's arrival history (the `arrivals` table, created by scheduler.sqlite_schema): the jobs each
submit created, counted per (hour, type, level) inside the submit's own transaction, and read back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from scheduler.store import ARRIVALS_PRUNE_HOURS, HOUR_MS, ArrivalBucket, first_kept_hour

_ADD = (
    "INSERT INTO arrivals (hour, type, level, submitted, work_ms) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (hour, type, level) DO UPDATE SET submitted = submitted + excluded.submitted,"
    " work_ms = work_ms + excluded.work_ms"
)
# Expired rows of at most ARRIVALS_PRUNE_HOURS hours from the oldest one: MIN is one seek of the primary key and
# the delete one range of it, so a submit after a long gap still does bounded work.
_FORGET = "DELETE FROM arrivals WHERE hour < min(?, (SELECT MIN(hour) FROM arrivals) + ?)"
_READ = "SELECT hour, type, level, submitted, work_ms FROM arrivals WHERE hour >= ? ORDER BY hour, type, level"


def record(db: sqlite3.Connection, now_ms: int, created: Iterable[tuple[str, int, int]]) -> None:
    """Count created jobs, each given as (type, level it was stored at, estimate_ms), in the hour of now_ms,
    then forget a few expired hours."""
    tally: dict[tuple[str, int], list[int]] = {}
    for job_type, level, estimate_ms in created:
        counts = tally.setdefault((job_type, level), [0, 0])
        counts[0] += 1
        counts[1] += estimate_ms
    if not tally:
        return
    hour = now_ms // HOUR_MS
    db.executemany(_ADD, [(hour, job_type, level, *counts) for (job_type, level), counts in tally.items()])
    db.execute(_FORGET, (first_kept_hour(now_ms), ARRIVALS_PRUNE_HOURS))


def read(db: sqlite3.Connection, since_ms: int) -> list[ArrivalBucket]:
    """Buckets from the hour of since_ms on, sorted by hour, type and level."""
    return [ArrivalBucket(*row) for row in db.execute(_READ, (since_ms // HOUR_MS,))]
