"""How often each job type of a trace checkpoints (a reclaim then loses only the work since the last one):
a small JSON or TOML object of job type -> seconds of work between checkpoints, `ebbflow simulate
--checkpoints`. A type left out does not checkpoint, and a reclaim loses its whole run."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

from autoscaler.simulate.trace_format import PathLike, TraceError


def read_checkpoints(path: PathLike) -> dict[str, float]:
    """{job type: seconds}; TraceError naming the file and the entry that is wrong."""
    suffix = Path(path).suffix.lower()
    if suffix not in {".json", ".toml"}:
        raise TraceError(path, "unknown file type; expected a name ending in .json or .toml")
    try:
        with open(path, "rb") as handle:
            data: Any = json.load(handle) if suffix == ".json" else tomllib.load(handle)
    except OSError as err:
        raise TraceError(path, f"cannot read it ({err.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise TraceError(path, f"not valid {suffix[1:].upper()}: {err}") from None
    if not isinstance(data, dict):
        raise TraceError(path, 'expected an object of job type -> seconds, e.g. {"fetch": 30}')
    every: dict[str, float] = {}
    for name, seconds in data.items():
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
            raise TraceError(path, f"{name}: {seconds!r} is not a number of seconds")
        if seconds <= 0:
            raise TraceError(path, f"{name}: {seconds} must be > 0 (leave a type out if it does not checkpoint)")
        every[str(name)] = float(seconds)
    return every
