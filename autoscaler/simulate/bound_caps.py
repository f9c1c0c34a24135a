"""One slot per job: how much work a job can do in each step of its window, and jobs grouped so those caps
stay tight.

A real schedule runs a job on one slot at a time, so in a step it does at most the part of the step that lies
inside its window (arrival to due time): the whole step inside the window, less at its first and last step.
Summed over the jobs of a group, these per-job caps bound the group's work per step; a relaxation of them, as
any real schedule meets each job's cap and so the group's sum. To keep the sum tight, a group holds jobs of
one work class (a power of two of their work in seconds): a 4-h job grouped with a hundred 10-s jobs would
otherwise borrow their room and run on a hundred slots at once.

A job whose work exceeds the time its window has usable capacity (no schedule meets its due time on one
slot) gets no caps: it keeps the relaxation of `one_slot_per_job=False`, work anywhere in its window in any
amount, so the LP stays feasible and the bound is what it was for such a job, not an error (the
simulator's level-0 jobs often have more work than their deadline leaves, and run late).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoscaler.simulate.bound_capacity import sum_by
from autoscaler.simulate.bound_steps import JobSteps
from autoscaler.simulate.bound_types import F64, I64, Bool

__all__ = [
    "CAP_SLACK",
    "WindowGroups",
    "group_windows",
]

# caps are widened by this share so that rounding cannot leave a job that exactly fills its room short of it
# (the dual LP would be unbounded); widening a cap only relaxes the LP
CAP_SLACK = 1e-9
_CLASSES = 128  # work classes floor(log2(work_s)), clipped to +-63; class 0: uncapped


@dataclass(frozen=True)
class WindowGroups:
    """Jobs with the same first and last step, work class and market, with their caps per step (slot-hours;
    inf: uncapped): in the first step, in each step strictly inside the window, in the last step (a window
    of one step has its cap in cap_first)."""

    arrive: I64
    due: I64
    work_h: F64
    jobs: I64
    cap_first: F64
    cap_mid: F64
    cap_last: F64
    spot_only: Bool

    def cap_at(self, step: I64, index: I64 | None = None) -> F64:
        """The cap of group index[i] (default: group i) in step[i], a step of its window."""
        at = np.arange(len(self.arrive)) if index is None else index
        mid = np.where(step == self.due[at], self.cap_last[at], self.cap_mid[at])
        return np.where(step == self.arrive[at], self.cap_first[at], mid)

    def subset(self, keep: Bool) -> WindowGroups:
        return WindowGroups(
            self.arrive[keep],
            self.due[keep],
            self.work_h[keep],
            self.jobs[keep],
            self.cap_first[keep],
            self.cap_mid[keep],
            self.cap_last[keep],
            self.spot_only[keep],
        )


def group_windows(
    jobs: JobSteps,
    step_s: float,
    spot_only: Bool,
    usable: Bool,
    open_last: bool,
    one_slot: bool,
) -> WindowGroups:
    """Group the jobs by (first step, last step, work class, spot only). usable: (2, steps), whether some type
    the job may use (row 0: any, row 1: spot only) can have nodes in the step. open_last: the last step stands
    for all later ones (jobs due after it have the rest of their window there)."""
    horizon = usable.shape[1]
    first_s, last_s = _overlaps(jobs, step_s, open_last, horizon)
    row = spot_only.astype(np.int64)
    before = np.zeros((2, horizon + 1), dtype=np.int64)
    np.cumsum(usable, axis=1, out=before[:, 1:])
    inner = np.maximum(before[row, jobs.due] - before[row, np.minimum(jobs.arrive + 1, jobs.due)], 0)
    room_s = usable[row, jobs.arrive] * first_s + usable[row, jobs.due] * last_s + inner * step_s
    work_s = jobs.work_h * 3600.0
    capped = (work_s <= room_s) if one_slot else np.zeros(len(work_s), dtype=np.bool_)
    work_class = np.clip(np.floor(np.log2(work_s)), -63, 63).astype(np.int64) + 64
    work_class = np.where(capped, work_class, 0)
    span = horizon + 1
    key = ((jobs.arrive * span + jobs.due) * _CLASSES + work_class) * 2 + row
    _, index, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    size = len(index)
    n = np.bincount(inverse, minlength=size)
    widen = (1.0 + CAP_SLACK) / 3600.0
    uncapped = ~capped[index]
    cap_first = np.where(uncapped, np.inf, sum_by(inverse, first_s, size) * widen)
    cap_mid = np.where(uncapped, np.inf, n * step_s * widen)
    cap_last = np.where(uncapped, np.inf, sum_by(inverse, last_s, size) * widen)
    return WindowGroups(
        jobs.arrive[index],
        jobs.due[index],
        sum_by(inverse, jobs.work_h, size),
        n.astype(np.int64),
        cap_first,
        cap_mid,
        cap_last,
        spot_only[index],
    )


def _overlaps(jobs: JobSteps, step_s: float, open_last: bool, horizon: int) -> tuple[F64, F64]:
    """Per job, the seconds of its window inside its first step and inside its last step (0 for a window of
    one step, whose time is all in the first). The open last step has no end."""
    single = jobs.arrive == jobs.due
    first_end = (jobs.arrive + 1) * step_s
    if open_last:
        first_end = np.where(jobs.arrive == horizon - 1, np.inf, first_end)
    first_s = np.maximum(np.minimum(jobs.due_s, first_end) - jobs.at_s, 0.0)
    last_s = np.where(single, 0.0, np.maximum(jobs.due_s - jobs.due * step_s, 0.0))
    return first_s, last_s
