"""One clock: callers whose host clocks are minutes apart agree on who holds a job, on both stores.

The head leases a job here; a second caller, a child process whose wall clock runs ahead (as on another
host, a laptop running `ebbflow maintain`, a second head), then maintains the queue or retries a job. On the
store's clock (the Scheduler's default) it reaps nothing the head still holds and its retry delays are the
store's; on its own clock (what every caller used before) the same child reaps the head's live lease, which
shows that the skew is real.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from scheduler.config import SchedulerConfig
from scheduler.queue import Scheduler
from scheduler.store import JobStore
from tests.stores import spec_of

ROOT = Path(__file__).resolve().parents[2]
AHEAD_S = (31.0, 300.0)  # the 31 s, and minutes


def caller(store: JobStore, skew_s: float, clock: str, action: str) -> dict[str, Any]:
    spec = json.dumps(dataclasses.asdict(spec_of(store)))
    command = [sys.executable, "-m", "tests.contracts.skewed_caller", spec, str(skew_s), clock, action]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("skew_s", AHEAD_S)
def test_a_caller_ahead_reaps_no_live_lease(store: JobStore, skew_s: float) -> None:
    # given the head holding a job under a 30 s lease
    head = Scheduler(store, SchedulerConfig())
    head.submit("noop", {}, tenant="a")
    (lease,) = head.lease(1, "head")
    # when a caller whose clock runs ahead by more than the lease maintains the queue
    seen = caller(store, skew_s, "store", "maintain")
    # then it reaped nothing, read the store's time, and the head's heartbeat and ack still hold
    assert seen["reaped"] == 0
    assert abs(seen["now_ms"] - head.clock.now_ms()) < 5_000
    assert head.heartbeat([lease]) == [True]
    assert head.ack([lease]) == [True]
    job = store.get(lease.job.id)
    assert job is not None and job.attempts == 0


def test_on_its_own_clock_the_same_caller_reaps_the_live_lease(store: JobStore) -> None:
    # given the head holding a job under a 30 s lease
    head = Scheduler(store, SchedulerConfig())
    head.submit("noop", {}, tenant="a")
    (lease,) = head.lease(1, "head")
    # when a caller 31 s ahead maintains the queue on its own clock / then it takes the head's job away
    assert caller(store, AHEAD_S[0], "own", "maintain")["reaped"] == 1
    assert head.heartbeat([lease]) == [False]


def test_a_retry_delay_set_by_a_caller_ahead_is_on_the_store_clock(store: JobStore) -> None:
    # given a caller 300 s ahead that submits a job, runs it and fails it with a retry (a backoff of 1-2 s)
    job_id = caller(store, AHEAD_S[1], "store", "submit-and-fail")["job_id"]
    head = Scheduler(store, SchedulerConfig())
    # when the head leases, then the job comes back within its backoff, not 300 s later
    give_up = time.monotonic() + 30
    leased: list[str] = []
    while not leased and time.monotonic() < give_up:
        leased = [lease.job.id for lease in head.lease(1, "head")]
        if not leased:
            time.sleep(0.1)  # polling for the condition, bounded by give_up
    assert leased == [job_id]
