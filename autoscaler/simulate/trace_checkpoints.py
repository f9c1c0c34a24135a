"""How often each job type of a trace checkpoints (a reclaim then loses only the work since the last one):
a small JSON or TOML object of job type -> seconds of work between checkpoints, `ebbflow simulate
--checkpoints`. A type left out does not checkpoint, and a reclaim loses its whole run."""

from __future__ import annotations

import math

from autoscaler.simulate.trace_format import PathLike, TraceError, load_small_file


def read_checkpoints(path: PathLike) -> dict[str, float]:
    """{job type: seconds}; TraceError naming the file and the entry that is wrong."""
    data = load_small_file(path)
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
