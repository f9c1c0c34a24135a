"""The ebbflow CLI on a host whose wall clock is off: moves this process's wall clock (`time.time`,
`time.time_ns`) by SKEW_S seconds before anything reads it, then runs the CLI with the rest of the arguments.
The fault suite runs its second head through it (bench/fault_suite.py), so the head's own clock is minutes
off, as a host without NTP would be; everything that decides who holds what must come from the store's clock.

    python -m bench.skewed_clock SKEW_S -- head --ray-address ADDRESS

The monotonic clock is left alone: it has no epoch to disagree about.
"""

from __future__ import annotations

import sys
import time


def skew_wall_clock(seconds: float) -> None:
    real_time, real_time_ns = time.time, time.time_ns
    shift_ns = round(seconds * 1e9)
    time.time = lambda: real_time() + seconds
    time.time_ns = lambda: real_time_ns() + shift_ns


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] != "--":
        raise SystemExit("usage: python -m bench.skewed_clock SKEW_S -- <ebbflow arguments>")
    try:
        skew_s = float(argv[0])
    except ValueError:
        raise SystemExit(f"SKEW_S must be a number of seconds (e.g. 60 or -30), not {argv[0]!r}") from None
    skew_wall_clock(skew_s)
    from ebbflow.cli import main as ebbflow  # imported after the skew: nothing has read the clock yet

    ebbflow(args=argv[2:], prog_name="ebbflow")


if __name__ == "__main__":
    main(sys.argv[1:])
