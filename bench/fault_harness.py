"""The queue under store faults, shared by tests/faults and bench/faults.py: a private redis-server with its
append-only file on, `ebbflow work` processes kept running as a service manager would (one that exits is started
again after RESTART_DELAY_S), `fault.record` jobs (bench/fault_jobs.py) and a list of faults injected while they
run (kill -9 and a start from the AOF, or a pause longer than a lease). The report counts what happened."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.table import Table

from bench.fault_jobs import open_effects
from bench.private_redis import RedisServer, redis_server
from ebbflow.config import load_settings
from ebbflow.stores import open_scheduler
from scheduler.job import JobState
from scheduler.queue import Scheduler

REPO = Path(__file__).resolve().parents[1]
EBBFLOW = str(Path(sys.executable).with_name("ebbflow"))
RESTART_DELAY_S = 0.5  # what a service manager waits before starting a failed worker again
Fault = Literal["kill", "pause"]


@dataclass(frozen=True)
class FaultRun:
    jobs: int = 300
    workers: int = 2
    faults: Sequence[Fault] = ("kill", "pause")
    lease_ttl_s: float = 2.0
    down_s: float = 1.0  # how long redis-server stays dead after a kill -9
    job_sleep_s: float = 0.02
    settle_s: float = 180.0
    recovery_limit_s: float = 60.0  # a fault the queue has not recovered from by then fails the run

    @property
    def pause_s(self) -> float:
        return self.lease_ttl_s + 2.0  # longer than a lease: every lease held at the pause expires


@dataclass
class FaultReport:
    submitted: int
    completed: int
    dead: int
    dead_without_reason: int
    effects: int
    duplicated_effects: int
    effects_of_unfinished_jobs: int
    runs: int
    leases_left: int
    worker_restarts: int
    outages_waited: int  # store outages the workers waited out (their log lines), rather than exit on
    recovery_s: list[tuple[str, float]]
    elapsed_s: float  # from the workers' start until the queue settled

    @property
    def lost(self) -> int:
        return self.submitted - self.completed - self.dead

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            ("faults injected", str(len(self.recovery_s))),
            ("worker restarts (by the supervisor)", str(self.worker_restarts)),
            ("store outages waited out by the workers", str(self.outages_waited)),
            ("jobs submitted", str(self.submitted)),
            ("completed", str(self.completed)),
            ("dead-lettered (each with its reason)", f"{self.dead} ({self.dead - self.dead_without_reason})"),
            ("lost (must be 0)", str(self.lost)),
            ("duplicated effects (must be 0)", str(self.duplicated_effects)),
            ("runs beyond one per job (a run whose ack the outage swallowed)", str(self.runs - self.effects)),
            ("leases left", str(self.leases_left)),
            ("start to settled", f"{self.elapsed_s:.1f} s"),
        ]
        rows += [(f"recovery after {fault}", f"{seconds:.1f} s") for fault, seconds in self.recovery_s]
        return rows

    def print(self, title: str, console: Console | None = None) -> None:
        table = Table(title=title)
        table.add_column("what")
        table.add_column("figure", justify="right")
        for what, figure in self.rows():
            table.add_row(what, figure)
        (console or Console(width=110)).print(table)


def work_command(n: int) -> list[str]:
    return [EBBFLOW, "work", "--worker", f"fault-worker-{n}"]


def no_more_env(n: int) -> dict[str, str]:
    return {}


@dataclass
class Supervisor:
    """Processes (`ebbflow work` unless told otherwise), each started again when it exits (after
    RESTART_DELAY_S), until `stop`; what they print goes to <cwd>/supervised-<n>.log. Process n runs with
    `env` and `env_for(n)` over it (each head its own metrics port)."""

    env: dict[str, str]
    cwd: Path
    command: Callable[[int], list[str]] = work_command
    env_for: Callable[[int], dict[str, str]] = no_more_env
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
        with (self.cwd / f"supervised-{n}.log").open("a") as log:
            return subprocess.Popen(
                self.command(n),
                cwd=self.cwd,
                env={**self.env, **self.env_for(n)},
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )


@contextmanager
def queue_environment(server: RedisServer, run: FaultRun, folder: Path) -> Iterator[dict[str, str]]:
    """EBBFLOW_* for a queue on `server` in a fresh namespace (set in this process too, and put back after)."""
    values = {
        "EBBFLOW_STORE": "redis",
        "EBBFLOW_REDIS__URL": server.url,
        "EBBFLOW_REDIS__NAMESPACE": f"fault-{uuid.uuid4().hex[:12]}",
        "EBBFLOW_JOB_TYPES": json.dumps(["bench.fault_jobs:TYPES"]),
        "EBBFLOW_SCHEDULER__LEASE_TTL_S": str(run.lease_ttl_s),
        "EBBFLOW_SCHEDULER__BACKOFF_BASE_S": "0.2",
        "EBBFLOW_SCHEDULER__BACKOFF_MAX_S": "1",
        "EBBFLOW_SQLITE__PATH": str(folder / "unused.db"),
    }
    with ebbflow_environment(values) as env:
        yield env


@contextmanager
def ebbflow_environment(values: dict[str, str]) -> Iterator[dict[str, str]]:
    """Exactly these EBBFLOW_* settings in this process (any others set aside, all put back after), and
    PYTHONPATH naming the repository, so processes started meanwhile (Ray nodes too) import bench/; yields
    the environment for child processes."""
    saved = {name: value for name, value in os.environ.items() if name.upper().startswith("EBBFLOW_")}
    saved_path = os.environ.get("PYTHONPATH")
    for name in saved:
        del os.environ[name]
    os.environ.update({**values, "PYTHONPATH": str(REPO)})
    try:
        yield dict(os.environ)
    finally:
        for name in values:
            os.environ.pop(name, None)
        os.environ.update(saved)
        if saved_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved_path


def run_faults(
    run: FaultRun, on_fault: Callable[[str], None] = lambda what: None, appendonly: bool = True
) -> FaultReport:
    """Submit the jobs, start the workers, inject the faults evenly through the run, wait until the queue
    settles, and count. The queue's keys are removed afterwards. (`appendonly=False` only shows that the
    suite can fail: a killed server then loses the queue.)"""
    with tempfile.TemporaryDirectory() as scratch, redis_server(appendonly=appendonly) as server:
        folder = Path(scratch)
        with queue_environment(server, run, folder) as env:
            effects = folder / "effects.db"
            open_effects(str(effects)).close()
            scheduler = open_scheduler(load_settings())
            submitted = [submit_record(scheduler, effects, n, run.job_sleep_s) for n in range(run.jobs)]
            supervisor = Supervisor(env, folder)
            started = time.monotonic()
            supervisor.start(run.workers)
            recovery: list[tuple[str, float]] = []
            try:
                for number, fault in enumerate(run.faults, start=1):
                    target = number / (len(run.faults) + 1) * run.jobs
                    _wait(lambda: _effects(effects) >= target, supervisor, run.settle_s, "progress")  # noqa: B023
                    recovery.append(_inject(fault, server, run, supervisor, effects))
                    on_fault(recovery[-1][0])
                _wait(lambda: _settled(scheduler), supervisor, run.settle_s, "the queue to settle")
                elapsed_s = time.monotonic() - started
            finally:
                supervisor.stop()
            report = _count(scheduler, submitted, effects, supervisor.restarts, recovery, elapsed_s)
            report.outages_waited = _outages_waited(folder)
            scheduler.store.purge()
            scheduler.store.close()
            return report


def submit_record(scheduler: Scheduler, effects: Path, number: int, sleep_s: float) -> str:
    """Submit the `number`th fault.record job, its effect named and its idempotency key the same; its id."""
    effect = f"record-{number}"
    payload = {"effects": str(effects), "effect": effect, "sleep_s": sleep_s}
    return scheduler.submit("fault.record", payload, tenant=f"t{number % 3}", key=effect).job_id


def _inject(
    fault: Fault, server: RedisServer, run: FaultRun, supervisor: Supervisor, effects: Path
) -> tuple[str, float]:
    """Inject one fault; (what it was, seconds from the store's return until a job leased afterwards is done)."""
    before = _effects(effects)
    if fault == "kill":
        server.kill()
        time.sleep(run.down_s)
        server.start()
        what = f"kill -9 of redis-server, {run.down_s:.0f} s down, start from its AOF"
    else:
        server.pause()
        time.sleep(run.pause_s)
        server.resume()
        what = f"redis-server paused {run.pause_s:.0f} s (lease TTL {run.lease_ttl_s:.0f} s)"
    # jobs in flight at the fault may still record their effects: at most one per worker
    seconds = _wait(lambda: _effects(effects) > before + run.workers, supervisor, run.recovery_limit_s, what)
    return what, seconds


def _wait(condition: Callable[[], bool], supervisor: Supervisor, limit_s: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        supervisor.keep_running()
        if time.monotonic() - started > limit_s:
            raise TimeoutError(f"{what}: not within {limit_s:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


def _outages_waited(folder: Path) -> int:
    """How many store outages the supervised workers logged waiting out (ebbflow.outage_wait)."""
    return sum(log.read_text().count("store unavailable (") for log in folder.glob("supervised-*.log"))


def _effects(path: Path) -> int:
    connection = open_effects(str(path))
    try:
        return int(connection.execute("SELECT count(*) FROM effects").fetchone()[0])
    finally:
        connection.close()


def _settled(scheduler: Scheduler) -> bool:
    try:
        return scheduler.store.stats().settled
    except Exception:  # the store may still be on its way back
        return False


def _count(
    scheduler: Scheduler,
    submitted: list[str],
    effects: Path,
    restarts: int,
    recovery: list[tuple[str, float]],
    elapsed_s: float,
) -> FaultReport:
    jobs = [scheduler.get(job_id) for job_id in submitted]
    done = {job.id for job in jobs if job is not None and job.state is JobState.DONE}
    dead = [job for job in jobs if job is not None and job.state is JobState.DEAD]
    ledger = read_effects(effects)
    stats = scheduler.store.stats()
    return FaultReport(
        submitted=len(submitted),
        completed=len(done),
        dead=len(dead),
        dead_without_reason=sum(1 for job in dead if not job.error),
        effects=len(ledger.jobs_by_effect),
        duplicated_effects=ledger.duplicated,
        effects_of_unfinished_jobs=len(ledger.job_ids - done - {job.id for job in dead}),
        runs=ledger.runs,
        leases_left=sum(stats.running.values()),
        worker_restarts=restarts,
        outages_waited=0,
        recovery_s=recovery,
        elapsed_s=elapsed_s,
    )


@dataclass(frozen=True)
class Ledger:
    """What fault.record jobs did: the jobs behind each effect, and how many runs there were."""

    jobs_by_effect: dict[str, set[str]]
    runs: int

    @property
    def job_ids(self) -> set[str]:
        return set().union(*self.jobs_by_effect.values())

    @property
    def duplicated(self) -> int:
        """Effects that more than one job had: each is an effect that happened twice."""
        return sum(1 for jobs in self.jobs_by_effect.values() if len(jobs) > 1)


def read_effects(path: Path) -> Ledger:
    connection = sqlite3.connect(path)
    try:
        jobs_by_effect: dict[str, set[str]] = {}
        for effect, job_id in connection.execute("SELECT effect, job_id FROM effects"):
            jobs_by_effect.setdefault(effect, set()).add(job_id)
        runs = int(connection.execute("SELECT count(*) FROM runs").fetchone()[0])
    finally:
        connection.close()
    return Ledger(jobs_by_effect, runs)
