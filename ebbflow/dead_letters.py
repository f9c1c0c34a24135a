"""Operations on the whole dead-letter queue that the Scheduler offers one page at a time."""

from __future__ import annotations

from scheduler.queue import Scheduler

PAGE = 1000


def all_dead_ids(scheduler: Scheduler) -> list[str]:
    """Every dead job's id, newest first (read in full before anything is retried, so no page shifts)."""
    ids: list[str] = []
    while True:
        page = scheduler.dead_letters(limit=PAGE, offset=len(ids))
        ids += [job.id for job in page]
        if len(page) < PAGE:
            return ids
