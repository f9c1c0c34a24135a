"""Every fault at once (bench/fault_suite.py): spot nodes lost with and without notice, the leading one of two
`ebbflow head` processes (the second on a wall clock a minute ahead) killed and started again, redis-server
killed (back from its AOF), paused past a lease and held BUSY by a long Lua script, and jobs that raise, hang
or kill their worker, while fault.record jobs, a minutely cron schedule and all four packs run on a cluster
whose autoscaler launches the nodes. The packs' stores are this machine's MariaDB and Redis, their sources
`ebbflow emulate`; the queue is the suite's private redis-server.

Afterwards nothing is lost or done twice in effect, the misbehaving jobs are dead-lettered with their reasons
and nothing else is, no lease is left, no cron tick ran twice, the autoscaler brought spot capacity back after
a node loss, another head led after the leader's kill, no head exited by itself (the BUSY script included), no
two heads launched within one period and the guard's caps held, and the packs' results are exactly what the
world says (the end-to-end test's oracles)."""

from __future__ import annotations

import math
import subprocess
import time
from contextlib import closing
from typing import cast

import pytest
from rich.console import Console

from bench.fault_suite import ALL_FAULTS, SuiteHandle, SuiteRun, run_suite
from ebbflow import open_store
from ebbflow.config import RedisSettings, Settings
from scheduler.errors import StoreUnavailableError
from scheduler.store import JobStore
from tests.ebbflow.conftest import workdir
from tests.ebbflow.test_cli_head import EBBFLOW
from tests.ebbflow.test_head_packs_e2e import (
    STALE_BATCH,
    Readers,
    Stack,
    check_crawl,
    check_hot_topics,
    check_social_graph,
    check_sweep,
    database,
    emulator,
    hour_ms,
    namespace,
    stack,
    submit_first_packs,
)
from workloads.index import open_index
from workloads.rankings import open_rankings

__all__ = ["database", "emulator", "hour_ms", "namespace", "stack", "workdir"]  # fixtures, used by name

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
FAULTS = (*ALL_FAULTS, "preempt")  # every kind once, and one more node lost without notice
PACKS_WAIT_S = 400.0


def test_every_fault_at_once_loses_nothing(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    packs_env = {name: value for name, value in stack.env.items() if name.startswith("EBBFLOW_PACKS__")}
    swept: list[str] = []
    ranked: dict[str, list[tuple[str, float]]] = {}

    def run_the_packs(handle: SuiteHandle) -> None:
        """The first three packs, checked against the world as soon as they are done (the social graph's
        oracle reads the clock), then a stale sweep over the index they filled, all submitted with the CLI
        while the faults go off."""
        on_suite = _SuiteStack(handle.folder, stack.hour_ms, handle.env, stack.namespace, "", "", stack.archive)
        submit_first_packs(on_suite)
        queue = _queue(handle)
        with closing(queue), closing(open_index(stack.index_url)) as index:
            with closing(open_rankings(stack.rankings_url)) as rankings:
                _wait_for_packs(queue)
                readers = Readers(queue, index, rankings)
                ranked.update(check_social_graph(readers))
                ranked.update(check_hot_topics(stack, readers))
                check_crawl(stack, readers)
            swept.extend(video.video_id for video in index.due_for_check(2**62, 100_000))
            out = on_suite.submit("stale-videos", older_than_days="0", batch_size=str(STALE_BATCH))
            assert f"planned {math.ceil(len(swept) / STALE_BATCH)} jobs" in out, out
            _wait_for_packs(queue)

    report = run_suite(
        SuiteRun(records=360, record_sleep_s=1.0, faults=FAULTS, extra_env=packs_env), during=run_the_packs
    )
    with capsys.disabled():
        report.print("every fault at once", Console(width=130))
    assert report.failures() == []
    assert report.head_restarts >= 1 and report.cron_ticks >= 1
    # the audit read the decision logs (an empty one would pass it without a check) and a failover was timed
    assert report.launches is not None and report.launches.rounds >= 1, report.launches
    assert report.heads == 2 and report.failovers and None not in report.failovers
    # and the packs' results were what the world says, as if nothing had happened (checked above, as soon as
    # they were done), and the sweep marked exactly the dead videos stale and took them out of every ranking
    with closing(open_index(stack.index_url)) as index, closing(open_rankings(stack.rankings_url)) as rankings:
        check_sweep(Readers(cast(JobStore, None), index, rankings), swept, ranked)  # the queue went with its Redis


class _SuiteStack(Stack):
    """The end-to-end test's Stack on the suite's environment (its private queue); a command that met a store
    fault is run again, as an operator would: the jobs it submits have keys, so nothing is queued twice."""

    def ebbflow(self, *args: str) -> str:
        for _ in range(30):
            command = [EBBFLOW, *args]
            run = subprocess.run(command, cwd=self.folder, env=self.env, capture_output=True, text=True, check=False)
            if run.returncode == 0:
                return run.stdout
            said = run.stdout + run.stderr
            # the store's outages: lost, or refusing commands for a while (BUSY, READONLY: scheduler/redis_errors.py)
            assert "unreachable" in said or "refused the command" in said, said
            time.sleep(1)
        pytest.fail(f"ebbflow {' '.join(args)} kept failing: {run.stdout}{run.stderr}")


def _queue(handle: SuiteHandle) -> JobStore:
    redis = RedisSettings(url=handle.env["EBBFLOW_REDIS__URL"], namespace=handle.env["EBBFLOW_REDIS__NAMESPACE"])
    return open_store(Settings(store="redis", redis=redis))


def _wait_for_packs(queue: JobStore) -> None:
    """Until no pack job is pending or running (the fault.* jobs may go on) twice in a row, a second apart."""
    deadline, quiet = time.monotonic() + PACKS_WAIT_S, 0
    while quiet < 2:
        assert time.monotonic() < deadline, f"the packs did not finish within {PACKS_WAIT_S:.0f} s"
        time.sleep(1)
        try:
            stats = queue.stats()
        except StoreUnavailableError:
            quiet = 0
            continue
        busy = {**stats.pending, **stats.running}
        waiting = sum(n for (_, job_type), n in busy.items() if not job_type.startswith("fault."))
        quiet = quiet + 1 if waiting == 0 and stats.delayed == 0 else 0
