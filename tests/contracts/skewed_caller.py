"""A caller on another host whose wall clock is off: run as a child process, it moves this process's wall
clock (`time.time`, `time.time_ns`) by SKEW seconds before anything reads it, opens the store named by SPEC,
and does one thing to it as `ebbflow maintain` or a worker would.

    python -m tests.contracts.skewed_caller SPEC_JSON SKEW_S CLOCK ACTION

CLOCK: "store" (the Scheduler's default, the store's clock) or "own" (this process's clock, as every caller
used before, to show that the skew is real). ACTION: "maintain" (prints how many leases it reaped) or
"submit-and-fail" (submits one job, leases it and fails it with a retry; prints the job id). Prints one JSON
object.
"""

from __future__ import annotations

import json
import sys
import time


def _skew_wall_clock(seconds: float) -> None:
    real_time, real_time_ns = time.time, time.time_ns
    shift_ns = round(seconds * 1e9)
    time.time = lambda: real_time() + seconds  # type: ignore[assignment]
    time.time_ns = lambda: real_time_ns() + shift_ns  # type: ignore[assignment]


def main(spec_json: str, skew_s: str, clock: str, action: str) -> None:
    _skew_wall_clock(float(skew_s))
    from scheduler.clock import SystemClock
    from scheduler.config import SchedulerConfig
    from scheduler.queue import Scheduler
    from tests.stores import StoreSpec, close_store, open_spec

    store = open_spec(StoreSpec(**json.loads(spec_json)))
    try:
        scheduler = Scheduler(store, SchedulerConfig(), clock=SystemClock() if clock == "own" else None)
        if action == "maintain":
            print(json.dumps({"reaped": scheduler.maintain().reaped, "now_ms": scheduler.clock.now_ms()}))
        elif action == "submit-and-fail":
            job_id = scheduler.submit("noop", {}, tenant="skewed").job_id
            (lease,) = scheduler.lease(1, "skewed-worker")
            scheduler.fail(lease, "try again")
            print(json.dumps({"job_id": job_id}))
        else:
            raise SystemExit(f"unknown action {action!r}")
    finally:
        close_store(store)


if __name__ == "__main__":
    main(*sys.argv[1:])
