"""How much work one store call may do: the batch bounds of the operations whose size grows with the queue.

ARCHITECTURE.md's third rule: no store call's work grows with the queue beyond a batch bound. A Redis script
blocks every other client while it runs (and Redis stops it as BUSY after 5 s); a SQLite write transaction
blocks every other writer. So demotions, dead-letter retries and retention work in batches, each one atomic
(a Lua script, a transaction), looping in Python; an operation cut between batches is left consistent and is
finished later (a demotion by the next maintain, docs/retention.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

DEMOTE_BATCH = 1000
"""Pending jobs one demotion step moves (Redis: about 20 µs a job, so some 20 ms a script call)."""
RETRY_BATCH = 100
"""Dead jobs one retry call queues again: each record is decoded to check it, about 0.6 ms for a 64 KiB payload
on Redis, so a batch of 100 such jobs holds Redis some 60 ms (500 held it 300 ms)."""
MOVE_BATCH = 1000
"""Jobs one move call takes (the policy's moves come one at a time; a caller may pass more)."""
PRUNE_BATCH = 1000
"""Dead letters one retention call forgets."""
PRUNE_ROUNDS = 10
"""Retention calls per maintenance pass at most: a backlog (after an upgrade, or a lowered limit) drains over
several passes instead of holding one up."""
DEMOTED_SCAN = 100
"""Demotion records one pruning call looks at (Redis HSCAN COUNT; SQLite LIMIT)."""
LEASE_REAP_LIMIT = 100
"""Expired leases, and delayed jobs whose time has come, that one lease call takes back first (each)."""
PURGE_BATCH = 10_000
"""SQLite rows one purge transaction deletes (purge is for tests and benchmarks)."""

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def demote_in_steps(step: Callable[[int, bool], tuple[int, bool]], limit: int | None) -> int:
    """Run a demotion's steps until its move is finished or `limit` jobs moved; returns how many moved.

    `step(take, start)` moves at most `take` jobs in one atomic call (start: the first call, which records the
    demotion) and says whether the move is finished.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1 (or None for all), got {limit}")
    moved, done, start = 0, False, True
    while not done and (limit is None or moved < limit):
        take = DEMOTE_BATCH if limit is None else min(DEMOTE_BATCH, limit - moved)
        count, done = step(take, start)
        moved, start = moved + count, False
    return moved
