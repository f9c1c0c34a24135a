"""Jobs no schedule can serve: their whole window has no step where a node type they may use can have nodes.

The bound is the least cost of the schedules that meet every due time; with no such schedule there is no
figure to give. The LP would only say "infeasible" (and the result NaN), hiding which jobs and which option
are at fault, so such inputs are a ValueError naming them, as a deadline before its arrival is. The check
is exact for the LP: capacity is unlimited per step, so work has room as soon as one step of its window
has a usable column (a type whose nodes held through an outage counts; its first held step is bought
freely). With one slot per job, a job whose window has capacity for less time than its work is not
capped (bound_caps), so it too has room then.
"""

from __future__ import annotations

import numpy as np

from autoscaler.simulate.bound_steps import JobSteps
from autoscaler.simulate.bound_types import F64, Bool

__all__ = ["check_servable"]

_NO_TYPE = "have no node type with capacity in their windows (no on-demand type; spot unavailable or reclaimed)", ""
_NO_SPOT = (
    "are below level 0 and have no spot capacity in their windows (spot unavailable, or reclaimed at a capacity "
    "loss, throughout), so no schedule can serve them with on-demand slots limited to the top level",
    '; ondemand_levels="all" lets on-demand slots serve every level',
)


def check_servable(cost: F64, spot: Bool, jobs: JobSteps, spot_only: Bool) -> None:
    """Raise ValueError if some job's window has no usable capacity. cost: (types, steps), inf: no nodes;
    spot_only: jobs that may use spot slots only."""
    exists = np.isfinite(cost)
    per_step = np.stack((exists.any(axis=0), exists[spot].any(axis=0)))
    before = np.zeros((2, per_step.shape[1] + 1), dtype=np.int64)
    np.cumsum(per_step, axis=1, out=before[:, 1:])
    room = before[:, jobs.due + 1] - before[:, jobs.arrive]
    _refuse(room[0] == 0, jobs, _NO_TYPE)
    _refuse(spot_only & (room[1] == 0), jobs, _NO_SPOT)


def _refuse(stuck: Bool, jobs: JobSteps, why: tuple[str, str]) -> None:
    if stuck.any():
        first = int(np.argmax(stuck))
        at, due = jobs.at_s[first], jobs.due_s[first]
        raise ValueError(f"{int(stuck.sum())} job(s) {why[0]} (first: arrival {at:g} s, due {due:g} s){why[1]}")
