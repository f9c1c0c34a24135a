"""What the SQLite store does with a damaged row: a column garbled or emptied behind its back (by a hand, a
bug or another version), or an index row (a turn in `rr`, a counter) lost or pointing at nothing.

Two parts. `row_problem` checks the columns a transition computes with, so a lease or a reap dead-letters a
job whose columns it cannot trust (`bury_damaged`, with the problem as the error) instead of raising. The
audit (`audit`, run by every `reap`) walks the jobs table a slice at a time in id order and repairs what a
transition would never meet: a pending job without a turn (it would never be served), a level outside the
store's levels, a running job whose expiry is not a time (it would never be reaped), a waiting job whose retry
time is not a time, a state that names no state. docs/store-damage.md says what an operator sees.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from scheduler.job import DEAD_LETTERED
from scheduler.sqlite_schema import Tx

STATES = ("pending", "delayed", "running", "done", "dead")
# A running job whose expiry was garbled is given this long before the reap takes it back: its holder's next
# heartbeat writes a real expiry, so only a job whose worker is gone is re-queued (as on Redis).
ORPHAN_LEASE_GRACE_MS = 300_000
_INT_COLUMNS = ("level", "attempts", "preemptions", "enqueued_ms")  # beside the state, in _JOB_COLUMNS order
_log = logging.getLogger(__name__)

# Dead-letters a job with `error`, setting the columns every read needs to integers where they are not.
_BURY = (
    "UPDATE jobs SET state = 'dead', error = ?, finished_ms = ?,"
    " level = CASE WHEN typeof(level) = 'integer' THEN level"
    " WHEN typeof(submitted_level) = 'integer' THEN submitted_level ELSE 0 END,"
    " attempts = CASE WHEN typeof(attempts) = 'integer' THEN attempts ELSE 0 END,"
    " preemptions = CASE WHEN typeof(preemptions) = 'integer' THEN preemptions ELSE 0 END,"
    " enqueued_ms = CASE WHEN typeof(enqueued_ms) = 'integer' THEN enqueued_ms ELSE ?2 END"
    " WHERE id = ?"
)
_SLICE = (
    "SELECT id, state, level, submitted_level, tenant, enqueued_ms, expires_ms, ready_ms FROM jobs"
    " WHERE id > ? ORDER BY id LIMIT ?"
)


def is_int(value: object) -> bool:
    return type(value) is int


def row_problem(row: Sequence[Any]) -> str | None:
    """What is wrong with the columns of a row read as _JOB_COLUMNS (id, record, state, level, attempts,
    preemptions, ...), or None: a state that names none, or a number column that holds no integer."""
    state = row[2]
    if state not in STATES:
        return f"state {str(state)[:80]!r} is not a state"
    values = (row[3], row[4], row[5], row[8])
    for column, value in zip(_INT_COLUMNS, values, strict=True):
        if not is_int(value):
            return f"{column} {str(value)[:80]!r} is not an integer"
    return None


def bury_damaged(tx: Tx, job_id: str, problem: str) -> None:
    """Dead-letter a job whose stored columns are damaged, with the problem as its error."""
    error = f"the stored row is unreadable ({problem}): {DEAD_LETTERED}"
    tx.db.execute(_BURY, (error, tx.now_ms, job_id))
    _log.warning("job %s dead-lettered: %s", job_id, error)


def audit(tx: Tx, after: str, limit: int, levels: int) -> tuple[str, int]:
    """Check and repair up to `limit` jobs after id `after`; returns where the next call goes on ("" once the
    sweep reached the end: it starts again) and how many jobs it repaired."""
    rows = tx.db.execute(_SLICE, (after, limit)).fetchall()
    repaired = sum(_repair(tx, row, levels) for row in rows)
    return (rows[-1][0] if len(rows) == limit else ""), repaired


def _repair(tx: Tx, row: Sequence[Any], levels: int) -> bool:
    job_id, state, level, submitted_level, tenant, enqueued_ms, expires_ms, ready_ms = row
    if state not in STATES:
        bury_damaged(tx, job_id, f"state {str(state)[:80]!r} is not a state")
        return True
    if state in ("done", "dead"):
        return False
    fixes: list[tuple[str, object]] = []
    if not (is_int(level) and 0 <= level < levels):
        if not (is_int(submitted_level) and 0 <= submitted_level < levels):
            bury_damaged(tx, job_id, f"level {str(level)[:80]!r} is not one of the store's levels")
            return True
        level = submitted_level
        fixes.append(("level", level))
    if not is_int(enqueued_ms):
        fixes.append(("enqueued_ms", tx.now_ms))  # its place in the queue is lost: it queues from now
    if state == "running" and not is_int(expires_ms):
        fixes.append(("expires_ms", tx.now_ms + ORPHAN_LEASE_GRACE_MS))
    if state == "delayed" and not is_int(ready_ms):
        fixes.append(("ready_ms", tx.now_ms))
    for column, value in fixes:
        tx.db.execute(f"UPDATE jobs SET {column} = ? WHERE id = ?", (value, job_id))
    joined = state == "pending" and _rejoin(tx, level, tenant)
    if fixes or joined:
        _log.warning("job %s repaired: %s", job_id, ", ".join([c for c, _ in fixes] + ["turn"] * joined))
    return bool(fixes) or joined


def _rejoin(tx: Tx, level: int, tenant: str) -> bool:
    """Give a tenant with a pending job at a level a turn there if it lost it (the last one); True if so."""
    if tx.db.execute("SELECT 1 FROM rr WHERE level = ? AND tenant = ?", (level, tenant)).fetchone():
        return False
    tx.db.execute("INSERT INTO rr (level, tenant, turn) VALUES (?, ?, ?)", (level, tenant, tx.next("turn")))
    return True
