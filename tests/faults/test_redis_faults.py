"""The queue on a Redis that dies (bench/fault_harness.py): a private redis-server with its append-only file on,
two `ebbflow work` processes (which wait a store outage out) kept running as a service manager would,
300 `fault.record` jobs, and two faults while they run: kill -9 of redis-server and a start from its AOF,
then a pause longer than the lease TTL. Afterwards every job is done, none is lost, none has its effect
twice, and no lease is left."""

from __future__ import annotations

import pytest

from bench.fault_harness import FaultRun, run_faults


def test_the_queue_survives_redis_killed_and_paused(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_faults(FaultRun(jobs=300, workers=2, faults=("kill", "pause")))
    with capsys.disabled():
        report.print("fault suite: the queue on a Redis that dies")
    assert len(report.recovery_s) == 2
    assert report.lost == 0 and report.duplicated_effects == 0
    assert report.completed == report.submitted and report.dead == 0
    assert report.effects == report.completed and report.effects_of_unfinished_jobs == 0
    assert report.leases_left == 0
    assert report.outages_waited >= 1  # the kill did reach the workers, which waited it out


def test_without_the_append_only_file_a_killed_redis_loses_the_queue() -> None:
    # the check above can fail: with the AOF off, the restarted server has no queue and the run cannot finish
    with pytest.raises(TimeoutError):
        run_faults(FaultRun(jobs=100, workers=1, faults=("kill",), recovery_limit_s=10), appendonly=False)
