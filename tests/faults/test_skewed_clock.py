"""bench/skewed_clock.py, the fault suite's second host: the wall clock it gives the ebbflow CLI is off by the
skew asked for (read the way the CLI's code reads it), the monotonic clock is not, and a skew that is not a
number is refused with its name."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench.fault_harness import REPO

# the wrapper's own entry point, with a "CLI" that reports the clocks it sees instead of ebbflow's main
PROBE = """
import json, sys, time
import ebbflow.cli
from bench import skewed_clock
ebbflow.cli.main = lambda args, prog_name: print(json.dumps(
    {"wall": time.time(), "wall_ns": time.time_ns(), "mono": time.monotonic(), "args": args}))
skewed_clock.main(sys.argv[1:])
"""


def test_the_wall_clock_is_moved_and_the_arguments_passed_on() -> None:
    before_wall, before_mono = time.time(), time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", PROBE, "3600", "--", "head", "--ray-address", "auto"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(run.stdout)
    after_wall, after_mono = time.time(), time.monotonic()
    assert before_wall + 3600 <= seen["wall"] <= after_wall + 3600
    assert before_wall + 3600 <= seen["wall_ns"] / 1e9 <= after_wall + 3600
    assert before_mono <= seen["mono"] <= after_mono  # one machine: the monotonic clock is shared, not moved
    assert seen["args"] == ["head", "--ray-address", "auto"]


def test_a_skew_that_is_not_a_number_is_refused_by_name() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.skewed_clock", "a minute", "--", "head"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1 and "SKEW_S must be a number of seconds" in run.stderr, run.stderr
