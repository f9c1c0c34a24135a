"""Uniform progress on a queue: the slots that start every queued job by the time it must start.

"Can't Be Late" (NSDI'24) keeps a job with a deadline on spot while its progress stays ahead of a straight
line from now to its deadline, and buys on-demand for the rest. A queue holds many jobs: each job of w
seconds that must start within s seconds needs w / s slots from now on to stay on its line, and the queue
needs the sum over its jobs. Capacity bought now arrives a lead time later (the start-up lag and a decision
period), so it counts against s less the lead; work due before the capacity can arrive is late whatever is
bought, and is given `late_s` after it. The sum is more than the least constant capacity that would start
every job just in time (earliest deadline first, max over t of the work due by t / (t - lead)): that
least figure runs the queue at the edge of its deadlines, where any round's error is a miss, while uniform
progress keeps a steady stream about two thirds of the way to its deadline.

The observer knows a queue's work, how soon its most pressing job must start and how long ago its oldest
job arrived; its jobs are taken to be due evenly over that span (a level's jobs arrive with one deadline
after them), which gives the sum in closed form: w / a x the integral of ds / max(s - lead, late) over the
span a. A burst (all due at once) is the limit of no span: work / (start_by - lead).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueuedWork:
    work_s: float  # seconds of work queued
    start_by_s: float  # the most pressing of it must start within this
    spread_s: float = 0.0  # the rest within up to this much later (0: all at once)


def progress_slots(queue: Iterable[QueuedWork], lead_s: float, late_s: float, before_s: float = math.inf) -> float:
    """Slots that start every job of `queue` whose start is due within `before_s` by the time it is due,
    when capacity takes `lead_s` to arrive; work due sooner than that is late whatever is bought, and is
    given `late_s` after the capacity arrives."""
    return sum(_part(part, lead_s, max(late_s, 1e-9), before_s) for part in queue)


def _part(part: QueuedWork, lead_s: float, late_s: float, before_s: float) -> float:
    """Sum over this part's jobs of work / time left to start it once capacity is there; jobs are due
    evenly over [start_by, start_by + spread], so the sum is work / spread x the integral of
    ds / max(s - lead, late) over the span (cut at `before_s`)."""
    if not (part.work_s > 0) or part.start_by_s >= before_s:
        return 0.0
    if part.spread_s <= late_s:  # all at once, or near enough
        return part.work_s / max(part.start_by_s - lead_s, late_s)
    low = part.start_by_s - lead_s
    high = min(part.start_by_s + part.spread_s, before_s) - lead_s
    late = max(0.0, min(high, late_s) - low) / late_s if low < late_s else 0.0  # due before the capacity is
    in_time = math.log(high / max(low, late_s)) if high > late_s else 0.0
    return part.work_s / part.spread_s * (late + in_time)
