"""Priority under load, and the ways a dispatch stops: SIGTERM drain, a drained node, a killed dispatcher."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dispatcher.config import DispatcherConfig
from dispatcher.dispatcher import Dispatcher
from dispatcher.drain import drain_node
from dispatcher.local_cluster import LocalCluster
from dispatcher.markets import Market
from ebbflow.stores import StoreSource
from scheduler.config import SchedulerConfig
from scheduler.job import JobState
from scheduler.queue import Scheduler
from tests.dispatcher import jobs
from tests.dispatcher.conftest import Head, until

REPO = Path(__file__).resolve().parents[2]


def test_urgent_job_starts_within_one_run_behind_100k_background_jobs(full_cluster: LocalCluster, head: Head) -> None:
    # given 100,000 background jobs of 1 s that may use every slot (no on-demand floor), all slots busy
    run_s = 1.0
    head.submit("t-rec-any", 100_000, sleep=run_s)
    dispatcher = head.dispatcher(ondemand_floor_slots=0)
    slots = sum(node.slots for node in full_cluster.nodes())
    sent: dict[str, float | str] = {}

    def submit_urgent_once_full() -> None:
        # busy means started on a worker, not just handed to Ray (a cold worker takes seconds to start)
        if not sent and len(jobs.runs(head.key)) >= slots:
            sent["at"] = time.time()
            sent["id"] = head.submit("t-rec", 1, "new-signup")[0]

    def urgent_done() -> bool:
        return bool(sent) and head.scheduler.get(str(sent["id"])).state is JobState.DONE

    # when an urgent job is submitted
    dispatcher.run(until=until(urgent_done), every=[submit_urgent_once_full])
    # then it started within one background job's run time, before any background job that was still waiting
    effects = jobs.effects(head.key)
    started = effects[str(sent["id"])]["start"]
    waited = started - float(sent["at"])
    assert waited <= run_s + 0.25, f"urgent job waited {waited:.3f} s"
    overtaken = [e for j, e in effects.items() if j != sent["id"] and float(sent["at"]) < e["start"] < started - 0.05]
    assert overtaken == []


def test_stop_lets_running_jobs_finish_and_gives_the_rest_back(full_cluster: LocalCluster, head: Head) -> None:
    ids = head.submit("t-rec", 12, sleep=1.0)
    dispatcher = head.dispatcher()

    def stop_once_busy() -> None:
        if len(dispatcher.running) == 4:
            dispatcher.request_stop()

    counts = dispatcher.run(every=[stop_once_busy])
    states = [head.scheduler.get(j) for j in ids]
    done = [job for job in states if job.state is JobState.DONE]
    assert len(done) == counts.done == 4
    waiting = [job for job in states if job.state is not JobState.DONE]
    assert all(job.state is JobState.PENDING and job.attempts == job.preemptions == 0 for job in waiting)


def test_drain_past_its_timeout_interrupts_and_requeues_uncounted(full_cluster: LocalCluster, head: Head) -> None:
    ids = head.submit("t-rec", 4, sleep=60)
    dispatcher = head.dispatcher(drain_timeout_s=0.5, cancel_grace_s=1.0)

    def stop_once_busy() -> None:
        if len(dispatcher.running) == 4:
            dispatcher.request_stop()

    began = time.monotonic()
    dispatcher.run(every=[stop_once_busy])
    assert time.monotonic() - began < 30
    for job in (head.scheduler.get(j) for j in ids):
        assert job.state is JobState.PENDING and job.attempts == job.preemptions == 0
    assert jobs.effects(head.key) == {}


def test_a_drained_node_hands_its_jobs_back_to_resume_elsewhere(full_cluster: LocalCluster, head: Head) -> None:
    # given four 6 s jobs on the two spot nodes, which may also use on-demand
    ids = head.submit("t-drainable", 4, sleep=6)
    victim = next(node.node_id for node in full_cluster.nodes() if node.market is Market.SPOT)
    dispatcher = head.dispatcher(ondemand_floor_slots=0)
    drained: list[str] = []

    def drain_once_running() -> None:
        if not drained and len(jobs.runs(head.key)) == 4:
            drain_node(victim, "preemption", deadline_s=60)
            drained.append(victim)

    # when one spot node gets an interruption notice
    counts = dispatcher.run(until=head.until_empty(), every=[drain_once_running])
    # then its jobs checkpointed, were released as preempted and resumed on another node; none failed
    effects = jobs.effects(head.key)
    assert sorted(effects) == sorted(ids)
    resumed = [j for j in ids if effects[j].get("resumed_from") == victim]
    assert len(resumed) == counts.preempted == 2
    assert all(effects[j]["node"] != victim for j in resumed)
    assert all(head.scheduler.get(j).preemptions == 1 for j in resumed)
    assert counts.retried == counts.dead == 0


def _start_head(config: Path) -> subprocess.Popen[bytes]:
    ebbflow = str(Path(sys.executable).with_name("ebbflow"))
    command = [ebbflow, "--config", str(config), "head", "--log-level", "warning"]
    return subprocess.Popen(command, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_sigkilled_head_loses_nothing(full_cluster: LocalCluster, head: Head, tmp_path: Path) -> None:
    # given a head process with 3 s leases dispatching 60 jobs
    config = tmp_path / "ebbflow.toml"
    config.write_text(
        f'store = "redis"\njob_types = ["tests.dispatcher.jobs:TYPES"]\n'
        f'[redis]\nnamespace = "{head.settings.redis.namespace}"\n'
        f'[scheduler]\nlease_ttl_s = 3\n[ray]\naddress = "{full_cluster.address}"\n'
        f"[head]\nmaintain_every_s = 0.5\n[dispatcher]\ndrain_timeout_s = 5\n"
    )
    ids = head.submit("t-rec", 60, sleep=0.5)
    first = _start_head(config)
    try:
        # when it is killed with SIGKILL mid-run, and another head starts
        deadline = time.monotonic() + 60
        while len(jobs.effects(head.key)) < 10 and time.monotonic() < deadline:
            time.sleep(0.1)
        first.kill()
        first.wait(10)
        second = _start_head(config)
        try:
            deadline = time.monotonic() + 90
            while not head.queue_empty() and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
    finally:
        if first.poll() is None:
            first.kill()
    # then every job completed, the killed head's jobs after their leases expired
    states = [head.scheduler.get(j) for j in ids]
    assert all(job.state is JobState.DONE for job in states)
    assert sorted(jobs.effects(head.key)) == sorted(ids)
    taken_over = [job for job in states if job.attempts == 1 and (job.error or "").startswith("lease expired")]
    assert taken_over and all(job.attempts <= 1 for job in states)


def test_a_fenced_out_holder_can_neither_ack_nor_overwrite_the_newer_run(
    full_cluster: LocalCluster, head: Head
) -> None:
    # given a dispatcher that stalls (never heartbeats) on a 2 s lease, and a healthy one
    quick = Scheduler(head.scheduler.store, SchedulerConfig(lease_ttl_s=2), head.scheduler.registry)
    source = StoreSource.from_settings(head.settings)
    stalled = Dispatcher(quick, DispatcherConfig(heartbeat_every_s=3600), source, "stalled")
    healthy = Dispatcher(head.scheduler, DispatcherConfig(), source, "healthy")  # 5 s leases
    stalled.warm_up()  # a cold worker start could outlast the 2 s lease before the job even begins
    healthy.warm_up()
    job_id = head.submit("t-fenced", 1, sleep=4)[0]
    check = until(lambda: len(jobs.runs(head.key)) == 1, 60)
    while not check():
        stalled.step()
    # when its lease expires mid-run and the healthy dispatcher starts the job again
    check = until(lambda: jobs.runs(head.key).get(job_id) == 2, 60)
    while not check():
        healthy.step()
    stalled.drain()  # the stalled run ends and reports back late
    check = until(lambda: not healthy.running and head.queue_empty(), 60)
    while not check():
        healthy.step()
    healthy.drain()
    # then the old run's checkpoint and ack were refused; the newer run's stand
    job = head.scheduler.get(job_id)
    assert (stalled.counts.done, stalled.counts.lost) == (0, 1)
    assert healthy.counts.done == 1
    assert job.state is JobState.DONE and job.checkpoint == {"run": 2} and job.attempts == 1
    assert jobs.runs(head.key) == {job_id: 2}
    assert jobs.effects(head.key)[job_id]["run"] == 2
