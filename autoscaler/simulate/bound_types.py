"""The array and option types that the lower bound's modules (bound and its bound_* helpers) share."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "F64",
    "I64",
    "Billing",
    "Bool",
    "Method",
    "OndemandLevels",
    "Outages",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

Billing = Literal["second", "hour"]
Outages = Literal["hold", "drop"]
OndemandLevels = Literal["all", "top"]
Method = Literal["highs", "highs-ds", "highs-ipm"]
