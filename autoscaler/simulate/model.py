"""What the fleet simulator replays: job arrivals, and the spot market per node type, over a time span.

Columnar (NumPy arrays), because a week can hold millions of jobs. Times are seconds from the trace's
start; `start_epoch_s` anchors them to the calendar (the top of the hour, weekdays).

Arrivals, one row per job, sorted by time:
    at_s        float64  when the job is submitted
    job_type    int32    index into `Arrivals.types`
    level       int8     its MLFQ level (0 = urgent)
    tenant      int32    index into `Arrivals.tenants`
    work_s      float64  seconds of one slot it needs
    deadline_s  float64  absolute deadline (seconds from the start), NaN: none

Market, one row per change, sorted by time: from `at_s` on, node type `node_type` (index into
`Market.node_types`) costs `price` $/hour on spot (NaN: unchanged) and has capacity or not (`available`,
1/0; -1: unchanged); `reclaim` is the fraction (0..1) of its running spot nodes taken back at that moment
(an interruption wave; 0: none). On-demand types have a fixed price and are always available.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from autoscaler.fleet import NodeType

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]


@dataclass(frozen=True)
class Arrivals:
    at_s: F64
    job_type: I32
    level: I8
    tenant: I32
    work_s: F64
    deadline_s: F64
    types: tuple[str, ...]
    tenants: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.at_s)


@dataclass(frozen=True)
class Market:
    at_s: F64
    node_type: I32
    price: F64
    available: I8
    reclaim: F64
    node_types: tuple[NodeType, ...]

    def __len__(self) -> int:
        return len(self.at_s)


@dataclass(frozen=True)
class Trace:
    arrivals: Arrivals
    market: Market
    duration_s: float
    start_epoch_s: float = 0.0  # the calendar time of t = 0 (a Monday 00:00 UTC in the generated week)
    # per job type name: seconds of work between two checkpoints of its runs (a reclaim loses at most that
    # much); a type not named here does not checkpoint, and a reclaim loses the whole run
    checkpoint_s: Mapping[str, float] = field(default_factory=dict)
