"""Uniform progress on a queue: the closed form against the sum over jobs it stands for."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autoscaler.progress import QueuedWork, progress_slots


def by_jobs(part: QueuedWork, lead: float, late: float, before: float = math.inf, jobs: int = 20_000) -> float:
    """The sum the closed form stands for: the part's work spread over `jobs` jobs due evenly over its span."""
    total = 0.0
    for k in range(jobs):
        start_by = part.start_by_s + part.spread_s * (k + 0.5) / jobs
        if start_by < before:
            total += part.work_s / jobs / max(start_by - lead, late)
    return total


@given(
    work=st.floats(1.0, 1e7),
    start_by=st.floats(0.0, 30_000.0),
    spread=st.floats(400.0, 30_000.0),
    before=st.one_of(st.just(math.inf), st.floats(100.0, 40_000.0)),
)
def test_the_closed_form_is_the_sum_over_the_jobs(work: float, start_by: float, spread: float, before: float) -> None:
    part = QueuedWork(work, start_by, spread)
    # the sum over 20,000 jobs is the closed form to within its own step (1% where a cut leaves few jobs)
    assert progress_slots([part], 360.0, 300.0, before) == pytest.approx(by_jobs(part, 360.0, 300.0, before), rel=1e-2)


def test_a_burst_needs_its_work_over_the_time_left_once_capacity_is_there() -> None:
    assert progress_slots([QueuedWork(36_000, 3960, 0.0)], 360, 300) == pytest.approx(10.0)


def test_work_already_late_is_given_the_late_window() -> None:
    assert progress_slots([QueuedWork(3000, 60, 0.0)], 360, 300) == pytest.approx(10.0)


def test_a_spread_queue_needs_more_than_its_work_over_the_last_deadline() -> None:
    # due evenly over the next hour: more than 36,000 / 3240 (just in time for the last job), since each
    # job keeps uniform progress towards its own deadline
    slots = progress_slots([QueuedWork(36_000, 0, 3600)], 360, 300)
    assert slots > 36_000 / 3240
    assert slots == pytest.approx(by_jobs(QueuedWork(36_000, 0, 3600), 360, 300), rel=1e-3)


def test_work_due_after_the_cut_is_left_out() -> None:
    assert progress_slots([QueuedWork(36_000, 5000, 0.0)], 360, 300, before_s=3960) == 0.0
    half = progress_slots([QueuedWork(36_000, 0, 7200)], 360, 300, before_s=3600)
    assert half == pytest.approx(by_jobs(QueuedWork(36_000, 0, 7200), 360, 300, before=3600), rel=1e-3)
