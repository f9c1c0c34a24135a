"""What the SQLite store forgets on its own: dead letters past their age or count, ended demotion records.

Each call does a bounded amount of work inside the caller's write transaction (scheduler.bounds), so a
backlog is worked off over several calls rather than in one long transaction that blocks every other writer.
"""

from __future__ import annotations

import sqlite3

_DEAD_OLDEST_FIRST = "SELECT id FROM jobs WHERE state = 'dead' AND {} ORDER BY finished_ms, id LIMIT ?"


def prune_dead(db: sqlite3.Connection, died_before_ms: int, keep: int, limit: int) -> tuple[int, bool]:
    """Delete up to `limit` dead jobs that died before died_before_ms or are beyond the newest `keep`, oldest
    first (a job is one row: its payload, checkpoint, progress and error go with it). Counts them in the
    `dead_dropped` counter. Returns how many, and whether more may be left."""
    # Both rules take a prefix of the dead jobs in death order, so their union is the longer prefix. Finding
    # the newest job beyond `keep` walks `keep` entries of the jobs_dead_recent index: milliseconds at 100,000.
    by_age = [row[0] for row in db.execute(_DEAD_OLDEST_FIRST.format("finished_ms < ?"), (died_before_ms, limit))]
    ids = by_age
    beyond = db.execute(
        "SELECT finished_ms, id FROM jobs WHERE state = 'dead' ORDER BY finished_ms DESC, id DESC LIMIT 1 OFFSET ?",
        (keep,),
    ).fetchone()
    if beyond is not None and len(by_age) < limit:
        rule = "(finished_ms < ? OR (finished_ms = ? AND id <= ?))"
        by_count = [row[0] for row in db.execute(_DEAD_OLDEST_FIRST.format(rule), (beyond[0], *beyond, limit))]
        ids = max(by_age, by_count, key=len)
    db.executemany("DELETE FROM jobs WHERE id = ? AND state = 'dead'", [(job_id,) for job_id in ids])
    db.execute("UPDATE counters SET value = value + ? WHERE name = 'dead_dropped'", (len(ids),))
    return len(ids), len(ids) >= limit


def prune_demotions(db: sqlite3.Connection, now_ms: int, limit: int) -> int:
    """Delete up to `limit` demotion records whose until_ms has passed; returns how many."""
    cursor = db.execute(
        "DELETE FROM demotions WHERE (tenant, level) IN"
        " (SELECT tenant, level FROM demotions WHERE until_ms <= ? ORDER BY until_ms LIMIT ?)",
        (now_ms, limit),
    )
    return cursor.rowcount


def dropped(db: sqlite3.Connection) -> int:
    """Dead letters forgotten by retention since the file was created."""
    row = db.execute("SELECT value FROM counters WHERE name = 'dead_dropped'").fetchone()
    return row[0] if row is not None and type(row[0]) is int else 0  # lost or garbled (damage): none known
