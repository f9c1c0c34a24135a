"""The dispatcher on a real local multi-node Ray cluster, against a real Redis store."""

from __future__ import annotations

import itertools

from dispatcher.local_cluster import LocalCluster
from dispatcher.markets import Market
from scheduler.job import JobState
from tests.dispatcher import jobs
from tests.dispatcher.conftest import Head
from tests.stores import written_around_submit


def markets_by_node(cluster: LocalCluster) -> dict[str, Market]:
    return {node.node_id: node.market for node in cluster.nodes()}


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals that overlap at one moment."""
    edges = sorted(itertools.chain(((start, 1) for start, _ in intervals), ((end, -1) for _, end in intervals)))
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_jobs_land_in_the_pools_the_rules_say_and_caps_hold(full_cluster: LocalCluster, head: Head) -> None:
    # given urgent jobs of a default type, background jobs, a spot-only type capped at 2 on spot, and an
    # on-demand-only type at a lower level (the on-demand node has 2 slots, 1 of them the top level's floor)
    urgent = head.submit("t-rec", 6, "new-signup", sleep=0.3)
    background = head.submit("t-rec", 8, sleep=0.3)
    capped = head.submit("t-rec-spot", 8, sleep=0.3)
    ondemand_only = head.submit("t-rec-od", 4, "daily-active", sleep=0.3)
    # when the dispatcher runs them all
    counts = head.dispatcher().run(until=head.until_empty())
    # then every job ran once, in a pool its rules allow
    effects, market_of = jobs.effects(head.key), markets_by_node(full_cluster)
    assert counts.done == 26 and counts.retried == counts.dead == 0
    assert {market_of[effects[j]["node"]] for j in background + capped} == {Market.SPOT}
    assert {market_of[effects[j]["node"]] for j in ondemand_only} == {Market.ON_DEMAND}
    assert Market.ON_DEMAND in {market_of[effects[j]["node"]] for j in urgent}
    # and the caps held: 2 capped jobs at most at once; 1 lower-level job at most on on-demand (2 slots - floor)
    assert most_at_once([(effects[j]["start"], effects[j]["end"]) for j in capped]) <= 2
    assert most_at_once([(effects[j]["start"], effects[j]["end"]) for j in ondemand_only]) == 1
    assert counts.deferred > 0  # the capped type was handed back rather than held


def test_tiny_jobs_are_batched_and_long_ones_run_alone(full_cluster: LocalCluster, head: Head) -> None:
    tiny = head.submit("t-tiny", 600)
    long = head.submit("t-rec", 4, sleep=0.3)
    dispatcher = head.dispatcher()
    counts = dispatcher.run(until=head.until_empty())
    assert counts.done == len(tiny) + len(long)
    # 600 tiny jobs took far fewer tasks than jobs; each 0.3 s job (longer than a task's target) had its own
    assert counts.tasks <= len(long) + len(tiny) // 10
    assert len(jobs.effects(head.key)) == len(tiny) + len(long)


def test_failures_time_limits_and_crashes_follow_the_scheduler(full_cluster: LocalCluster, head: Head) -> None:
    # given a job that raises, one that outlives its time limit, and one that checkpoints then kills its worker
    boom = head.scheduler.submit("t-boom", None, tenant="t", max_attempts=2).job_id
    hang = head.submit("t-hang", 1, sleep=30)[0]
    resume = head.submit("t-resume", 1)[0]
    # and queue entries written around the submit API: code that is not a registered type, a refused payload
    named_code = written_around_submit(head.scheduler, "os:system", '"rm -rf /"')
    bad_payload = written_around_submit(head.scheduler, "t-hang", '{"sleep": "forever"}')
    counts = head.dispatcher().run(until=head.until_empty())
    # then the head runs neither: both are dead after one lease, with the reason
    for job_id, reason in [(named_code, "'os:system' cannot run here"), (bad_payload, "fails its type's schema")]:
        refused = head.scheduler.get(job_id)
        assert refused.state is JobState.DEAD and refused.attempts == 1 and reason in (refused.error or "")
    # then the raising job is dead after its 2 attempts, with its traceback
    dead = head.scheduler.get(boom)
    assert dead.state is JobState.DEAD and dead.attempts == 2
    assert "ValueError: boom from the test job" in (dead.error or "") and "Traceback" in (dead.error or "")
    # and the hanging job was stopped at its limit each time, until its attempts ran out
    stopped = head.scheduler.get(hang)
    assert stopped.state is JobState.DEAD and "time limit exceeded" in (stopped.error or "")
    assert counts.timed_out == stopped.attempts == head.scheduler.config.max_attempts
    # and the crashing job failed once (its worker died), then resumed from its checkpoint with its progress
    resumed = head.scheduler.get(resume)
    assert resumed.state is JobState.DONE and resumed.attempts == 1
    assert jobs.effects(head.key)[resume]["resumed_from"] == 1
    assert resumed.progress == {"done": 2, "total": 2}
    assert resumed.checkpoint == {"step": 1}


def test_a_killed_spot_node_loses_no_job(full_cluster: LocalCluster, head: Head) -> None:
    # given 200 jobs running on 2 spot nodes
    ids = head.submit("t-rec", 200, sleep=0.25)
    victim = next(node.node_id for node in full_cluster.nodes() if node.market is Market.SPOT)
    dispatcher = head.dispatcher()
    state = {"killed": False}

    def kill_once_busy() -> None:
        if not state["killed"] and len(jobs.effects(head.key)) >= 8 and jobs.running_on(head.key, victim):
            full_cluster.kill_node(victim)
            state["killed"] = True

    # when one spot node is killed without warning in the middle of the run
    counts = dispatcher.run(until=head.until_empty(), every=[kill_once_busy])
    # then all 200 completed, each effect recorded once, the preemptions counted, nothing failed
    assert state["killed"]
    effects = jobs.effects(head.key)
    assert sorted(effects) == sorted(ids)
    assert all(head.scheduler.get(j).state is JobState.DONE for j in ids)
    assert counts.done == 200 and counts.retried == counts.dead == counts.lost == 0
    assert counts.preempted >= 1
    # (a job can be preempted twice: Ray may place its retry on the victim before GCS has marked it dead)
    preempted = [j for j in ids if head.scheduler.get(j).preemptions > 0]
    assert sum(head.scheduler.get(j).preemptions for j in ids) == counts.preempted
    # they ran again elsewhere. (Their effect may still name the victim: a run can record its idempotent effect
    # and then lose its node before the result reaches the dispatcher, which is exactly a preemption.)
    latest = jobs.latest_node(head.key)
    assert all(latest[j] != victim for j in preempted)
    assert all(head.scheduler.get(j).attempts == 0 for j in ids)
