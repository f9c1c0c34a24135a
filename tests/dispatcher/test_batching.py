from __future__ import annotations

from dispatcher.batching import SOLO_TASKS_AFTER_CRASH, BatchSizer
from scheduler.registry import JobType

TINY = JobType("tiny", expected_run_s=0.001)
LONG = JobType("long", expected_run_s=30)


def test_size_comes_from_the_estimate_until_runs_are_measured():
    sizer = BatchSizer(target_task_s=0.2, max_batch=256)
    assert sizer.size(TINY) == 200
    assert sizer.size(LONG) == 1


def test_measured_run_times_move_the_size():
    sizer = BatchSizer(target_task_s=0.2, max_batch=256)
    for _ in range(50):
        sizer.observe("tiny", 0.01)
    assert sizer.size(TINY) == 20
    for _ in range(50):
        sizer.observe("long", 0.0001)
    assert sizer.size(LONG) == 256  # capped by max_batch


def test_a_crash_in_a_batch_runs_the_type_alone_for_a_while():
    sizer = BatchSizer(target_task_s=0.2, max_batch=256)
    sizer.isolate("tiny")
    for _ in range(SOLO_TASKS_AFTER_CRASH):
        assert sizer.size(TINY) == 1
        sizer.task_started("tiny")
    assert sizer.size(TINY) == 200
