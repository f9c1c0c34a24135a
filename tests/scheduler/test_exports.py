"""The public surface: every name in scheduler.__all__ exists, and the main entry points are in it."""

from __future__ import annotations

import scheduler


def test_every_exported_name_exists() -> None:
    missing = [name for name in scheduler.__all__ if not hasattr(scheduler, name)]
    assert missing == []


def test_the_entry_points_are_exported() -> None:
    assert {"Scheduler", "SchedulerConfig", "RedisStore", "SQLiteStore", "JobStore", "CronRunner"} <= set(
        scheduler.__all__
    )


def test_the_store_snapshots_the_autoscaler_reads_are_exported() -> None:
    assert {"QueueStats", "ArrivalBucket"} <= set(scheduler.__all__)
