"""`ebbflow head` killed with SIGKILL while its jobs run on a local multi-node Ray cluster (`ebbflow
local-cluster`), and started again, as its systemd unit would. The head is the dispatcher, the cron runner and
maintenance in one process, so one kill takes all three down.

Afterwards every job is done once in effect (effects keyed by job id), no lease is left, and the cron schedule
(every minute, catching up the last hour at each start) has one job per tick: the restarted head submitted the
same ticks again and the tick keys turned them away."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from bench.fault_jobs import TYPES, open_effects
from bench.private_redis import free_port
from ebbflow import open_store
from ebbflow.config import RedisSettings, Settings
from scheduler.job import JobState
from scheduler.queue import Scheduler
from scheduler.registry import JobTypeRegistry
from tests.ebbflow.conftest import workdir
from tests.ebbflow.test_cli_head import start, stop
from tests.ebbflow.test_head_packs_e2e import REDIS_URL, address_of, namespace

__all__ = ["namespace", "workdir"]  # fixtures, used by name below

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
JOBS = 150
LEASE_TTL_S = 4.0
LIMIT_S = 120.0
REPO = Path(__file__).resolve().parents[2]
MINUTELY = {"name": "minutely", "cron": "* * * * *", "type": "fault.record", "pass_tick": True}


def effects_of(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [row[0] for row in connection.execute("SELECT job_id FROM effects")]
    finally:
        connection.close()


def wait_until(condition: Callable[[], bool], head: subprocess.Popen[str], limit_s: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert head.poll() is None, f"ebbflow head exited {head.returncode}: {stop(head)}"
        assert time.monotonic() - started < limit_s, f"{what}: not within {limit_s:.0f} s"
        time.sleep(0.2)
    return time.monotonic() - started


def test_a_killed_head_started_again_loses_nothing_and_doubles_no_tick(
    workdir: Path, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    effects = workdir / "effects.db"
    open_effects(str(effects)).close()
    env = {
        "PYTHONPATH": str(REPO),  # the head and the Ray workers import the job type from bench/
        "EBBFLOW_STORE": "redis",
        "EBBFLOW_REDIS__URL": REDIS_URL,
        "EBBFLOW_REDIS__NAMESPACE": namespace,
        "EBBFLOW_JOB_TYPES": json.dumps(["bench.fault_jobs:TYPES"]),
        "EBBFLOW_SCHEDULER__LEASE_TTL_S": str(LEASE_TTL_S),
        "EBBFLOW_HEAD__MAINTAIN_EVERY_S": "1",
        "EBBFLOW_HEAD__CRON_EVERY_S": "1",
        "EBBFLOW_HEAD__METRICS_PORT": str(free_port()),
        "EBBFLOW_CRON": json.dumps([MINUTELY | {"payload": {"effects": str(effects)}}]),
    }
    store = open_store(Settings(store="redis", redis=RedisSettings(url=REDIS_URL, namespace=namespace)))
    scheduler = Scheduler(store, registry=JobTypeRegistry(TYPES))
    submitted = [
        scheduler.submit("fault.record", {"effects": str(effects), "sleep_s": 0.05}, tenant=f"t{n % 3}").job_id
        for n in range(JOBS)
    ]
    cluster = start("local-cluster", "--spot", "1", "--ondemand", "1", cwd=workdir, env={"PYTHONPATH": str(REPO)})
    try:
        address = address_of(cluster)
        head = start("head", "--ray-address", address, cwd=workdir, env=env)
        # when a third of the jobs are done, the head is killed (SIGKILL: no drain, no goodbye) ...
        wait_until(lambda: len(effects_of(effects)) >= JOBS // 3, head, LIMIT_S, "a third of the jobs")
        head.kill()
        head.communicate()
        before = len(effects_of(effects))
        # ... and started again
        head = start("head", "--ray-address", address, cwd=workdir, env=env)
        try:
            recovery_s = wait_until(lambda: len(effects_of(effects)) > before + 4, head, LIMIT_S, "recovery")
            wait_until(lambda: store.stats().settled, head, LIMIT_S, "the queue to settle")
        finally:
            stop(head)
    finally:
        out = stop(cluster)
    assert "local cluster stopped" in out, out
    with closing(store):
        ids = effects_of(effects)
        # then every submitted job is done, once in effect, and no lease is left
        assert all(scheduler.get(job_id).state is JobState.DONE for job_id in submitted)  # type: ignore[union-attr]
        assert len(ids) == len(set(ids)) and set(submitted) <= set(ids)
        stats = store.stats()
        assert stats.settled and not stats.running and stats.dead == 0
        # and the cron jobs (the effects of jobs nobody submitted by hand) have one job per tick
        cron_jobs = [scheduler.get(job_id) for job_id in set(ids) - set(submitted)]
        ticks = [job.payload["tick_ms"] for job in cron_jobs if job is not None]  # type: ignore[index]
        assert len(ticks) >= 60 and len(ticks) == len(set(ticks)), sorted(ticks)
        runs = sqlite3.connect(effects).execute("SELECT count(*) FROM runs").fetchone()[0]
    with capsys.disabled():
        print(
            f"\nhead SIGKILL: {JOBS} jobs and {len(ticks)} cron ticks done once each; {runs - len(ids)} re-runs; "
            f"recovery after the restart {recovery_s:.1f} s"
        )
