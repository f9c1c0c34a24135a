"""Retention: what each maintenance pass forgets, so the store does not grow without bound.

Dead letters are kept by age and by count (SchedulerConfig.dead_letter_max_age_s and dead_letter_max_count);
past either bound they are dropped oldest first, in batches (scheduler.bounds), with every record of the job.
Demotion records whose time has passed are forgotten a few at a time. docs/retention.md says what is kept.
"""

from __future__ import annotations

import logging

from scheduler.bounds import PRUNE_BATCH, PRUNE_ROUNDS
from scheduler.config import SchedulerConfig
from scheduler.store import JobStore

_log = logging.getLogger(__name__)


def drop_dead_letters(store: JobStore, config: SchedulerConfig, now_ms: int) -> int:
    """Drop dead letters past the retention bounds, at most PRUNE_ROUNDS batches; returns how many."""
    died_before_ms = now_ms - round(config.dead_letter_max_age_s * 1000)
    dropped = 0
    for _ in range(PRUNE_ROUNDS):
        count, more = store.prune_dead_letters(died_before_ms, config.dead_letter_max_count, PRUNE_BATCH)
        dropped += count
        if not more:
            break
    if dropped:
        _log.info(
            "retention: dropped %d dead letters (older than %g days, or beyond the newest %d)",
            dropped,
            config.dead_letter_max_age_s / 86400,
            config.dead_letter_max_count,
        )
    return dropped
