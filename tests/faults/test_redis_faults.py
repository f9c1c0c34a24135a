"""The queue on a Redis that dies: a private redis-server with its append-only file on (fsync always), two
`ebbflow work` processes kept running as a service manager would (one that exits is started again), a few
hundred jobs, and two faults while they run: kill -9 of redis-server then a start from its AOF, and a pause
(SIGSTOP) longer than the lease TTL.

Afterwards every job is done, none is lost, none has its effect twice (effects are keyed by job id; runs are
counted separately), no lease is left, and the table of what happened is printed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from bench.private_redis import RedisServer, redis_server
from ebbflow.config import load_settings
from ebbflow.stores import open_scheduler
from scheduler.job import JobState
from scheduler.queue import Scheduler
from tests.faults.jobs import open_effects

REPO = Path(__file__).resolve().parents[2]
EBBFLOW = str(Path(sys.executable).with_name("ebbflow"))
JOBS = 300
WORKERS = 2
LEASE_TTL_S = 2.0
PAUSE_S = LEASE_TTL_S + 2.0
SETTLE_S = 180.0
RESTART_DELAY_S = 0.5  # what a service manager waits before starting a failed worker again


@dataclass
class Supervisor:
    """`ebbflow work` processes, each started again when it exits (with a short delay), until `stop`."""

    env: dict[str, str]
    cwd: Path
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    restarts: int = 0
    _due: dict[int, float] = field(default_factory=dict)

    def start(self, count: int) -> None:
        self.processes = [self._spawn(n) for n in range(count)]

    def keep_running(self) -> None:
        for n, process in enumerate(self.processes):
            if process.poll() is None:
                continue
            due = self._due.setdefault(n, time.monotonic() + RESTART_DELAY_S)
            if time.monotonic() >= due:
                del self._due[n]
                self.processes[n] = self._spawn(n)
                self.restarts += 1

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _spawn(self, n: int) -> subprocess.Popen[str]:
        args = [EBBFLOW, "work", "--worker", f"fault-worker-{n}"]
        return subprocess.Popen(
            args, cwd=self.cwd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
        )


@pytest.fixture
def aof_redis() -> Iterator[RedisServer]:
    with redis_server(appendonly=True) as server:
        yield server


@pytest.fixture
def queue_env(aof_redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.upper().startswith("EBBFLOW_"):
            monkeypatch.delenv(name)
    values = {
        "EBBFLOW_STORE": "redis",
        "EBBFLOW_REDIS__URL": aof_redis.url,
        "EBBFLOW_REDIS__NAMESPACE": f"fault-{uuid.uuid4().hex[:12]}",
        "EBBFLOW_JOB_TYPES": json.dumps(["tests.faults.jobs:TYPES"]),
        "EBBFLOW_SCHEDULER__LEASE_TTL_S": str(LEASE_TTL_S),
        "EBBFLOW_SCHEDULER__BACKOFF_BASE_S": "0.2",
        "EBBFLOW_SCHEDULER__BACKOFF_MAX_S": "1",
        "EBBFLOW_SQLITE__PATH": str(tmp_path / "unused.db"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, "PYTHONPATH": str(REPO)}


def effects_so_far(path: Path) -> int:
    connection = open_effects(str(path))
    try:
        return int(connection.execute("SELECT count(*) FROM effects").fetchone()[0])
    finally:
        connection.close()


def wait_for(condition: Callable[[], bool], supervisor: Supervisor, limit_s: float, what: str) -> float:
    """Seconds until `condition()`, keeping the workers running meanwhile; fails after `limit_s`."""
    started = time.monotonic()
    while not condition():
        supervisor.keep_running()
        assert time.monotonic() - started < limit_s, f"{what}: not within {limit_s:.0f} s"
        time.sleep(0.1)
    return time.monotonic() - started


def progressed(path: Path, after: int) -> Callable[[], bool]:
    """True once more jobs are done than the workers could have had in flight at the fault: so some job was
    leased, run and recorded after the store came back."""
    return lambda: effects_so_far(path) > after + WORKERS


def test_the_queue_survives_redis_killed_and_paused(
    aof_redis: RedisServer, queue_env: dict[str, str], tmp_path: Path
) -> None:
    effects = tmp_path / "effects.db"
    open_effects(str(effects)).close()
    scheduler = open_scheduler(load_settings())
    submitted = [
        scheduler.submit("fault.record", {"effects": str(effects), "sleep_s": 0.02}, tenant=f"t{n % 3}").job_id
        for n in range(JOBS)
    ]
    supervisor = Supervisor(queue_env, tmp_path)
    supervisor.start(WORKERS)
    recovery: dict[str, float] = {}
    try:
        # when a third of the jobs are done, redis-server is killed (-9) and started again from its AOF
        wait_for(lambda: effects_so_far(effects) >= JOBS // 3, supervisor, 120, "a third of the jobs")
        before = effects_so_far(effects)
        aof_redis.kill()
        time.sleep(1.0)
        aof_redis.start()
        recovery["redis kill -9, restart from AOF"] = wait_for(progressed(effects, before), supervisor, 60, "recovery")
        # and when two thirds are done, it is paused for longer than a lease lasts
        wait_for(lambda: effects_so_far(effects) >= 2 * JOBS // 3, supervisor, 120, "two thirds of the jobs")
        before = effects_so_far(effects)
        aof_redis.pause()
        time.sleep(PAUSE_S)
        aof_redis.resume()
        recovery[f"redis paused {PAUSE_S:.0f} s (lease TTL {LEASE_TTL_S:.0f} s)"] = wait_for(
            progressed(effects, before), supervisor, 60, "recovery"
        )
        # then the queue settles
        wait_for(lambda: settled(scheduler), supervisor, SETTLE_S, "the queue to settle")
    finally:
        supervisor.stop()
    report = check_and_report(scheduler, submitted, effects, supervisor.restarts, recovery)
    scheduler.store.purge()
    scheduler.store.close()
    assert report["lost"] == 0 and report["duplicated effects"] == 0


def settled(scheduler: Scheduler) -> bool:
    try:
        return scheduler.store.stats().settled
    except Exception:  # the store may still be coming back
        return False


def check_and_report(
    scheduler: Scheduler, submitted: list[str], effects: Path, restarts: int, recovery: dict[str, float]
) -> dict[str, int]:
    jobs = {job_id: scheduler.get(job_id) for job_id in submitted}
    done = {job_id for job_id, job in jobs.items() if job is not None and job.state is JobState.DONE}
    dead = {job_id: job for job_id, job in jobs.items() if job is not None and job.state is JobState.DEAD}
    connection = sqlite3.connect(effects)
    try:
        effect_ids = [row[0] for row in connection.execute("SELECT job_id FROM effects")]
        runs = int(connection.execute("SELECT count(*) FROM runs").fetchone()[0])
    finally:
        connection.close()
    stats = scheduler.store.stats()
    report = {
        "faults injected": len(recovery),
        "worker restarts (by the supervisor)": restarts,
        "jobs submitted": len(submitted),
        "completed": len(done),
        "dead-lettered": len(dead),
        "lost": len(submitted) - len(done) - len(dead),
        "duplicated effects": len(effect_ids) - len(set(effect_ids)),
        "runs beyond one per job (re-runs after a lost ack)": runs - len(set(effect_ids)),
    }
    table = Table(title="fault suite: the queue on a Redis that dies")
    table.add_column("what")
    table.add_column("figure", justify="right")
    for what, figure in report.items():
        table.add_row(what, str(figure))
    for fault, seconds in recovery.items():
        table.add_row(f"recovery after {fault}", f"{seconds:.1f} s")
    Console(width=100).print(table)
    # every completed job has its effect, and no job that never completed has one
    assert set(effect_ids) >= done
    assert set(effect_ids) <= set(submitted)
    assert all(job.error for job in dead.values()), "a dead letter without its reason"
    assert not stats.running and stats.settled, f"leases left: {stats}"
    return report
