"""JobStore contract under concurrency: several store objects on one backend, in threads and in processes.

Each worker opens its own store object on the same SQLite file / Redis namespace and leases-and-acks until
nothing is left. Every job must be leased exactly once and acked exactly once, tokens never repeat.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from scheduler.job import JobState
from scheduler.store import JobStore
from tests.stores import T0, drain, drain_into, new_job, nonzero, spec_of

JOBS = 2_000
TENANTS = [f"t{i}" for i in range(7)]


def _fill(store: JobStore) -> list[str]:
    jobs = [new_job(tenant=TENANTS[i % len(TENANTS)], level=i % store.levels) for i in range(JOBS)]
    for start in range(0, JOBS, 500):
        store.submit(jobs[start : start + 500], now_ms=T0)
    return [job.id for job in jobs]


def _check(store: JobStore, job_ids: list[str], results: list[list[tuple[str, int, bool]]]) -> None:
    done = [entry for worker in results for entry in worker]
    leased = Counter(job_id for job_id, _token, _ok in done)
    # every job leased exactly once (no lease granted twice) and each ack accepted
    assert len(done) == JOBS
    assert set(leased) == set(job_ids)
    assert max(leased.values()) == 1
    assert all(ok for _id, _token, ok in done)
    # no token handed out twice
    tokens = [token for _id, token, _ok in done]
    assert len(set(tokens)) == len(tokens)
    # and nothing is left
    stats = store.stats()
    assert (nonzero(stats.pending), nonzero(stats.running), stats.delayed, stats.dead) == ({}, {}, 0, 0)
    assert store.lease(10, "check", ttl_ms=1_000, now_ms=T0 + 10_000) == []
    assert {getattr(store.get(job_id), "state", None) for job_id in job_ids} == {JobState.DONE}


@pytest.mark.timeout(60)
def test_four_threads_with_their_own_store_objects_ack_every_job_once(store):
    # given 2,000 jobs across levels and tenants
    job_ids = _fill(store)
    spec = spec_of(store)
    start = threading.Barrier(4)
    # when 4 threads, each with its own store object on the backend, start together, lease 5 at a time and ack
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda w: drain(spec, f"thread-{w}", 5, T0 + 1_000, start), range(4)))
    # then every job was leased and acked exactly once and none is left
    _check(store, job_ids, results)


@pytest.mark.timeout(120)
def test_two_processes_ack_every_job_once(store):
    # given 2,000 jobs across levels and tenants
    job_ids = _fill(store)
    spec = spec_of(store)
    ctx = multiprocessing.get_context("spawn")
    start, queue = ctx.Barrier(2), ctx.Queue()
    # when 2 spawned processes, each opening the backend itself, start together, lease 5 at a time and ack
    workers = [ctx.Process(target=drain_into, args=(queue, spec, f"proc-{w}", 5, T0 + 1_000, start)) for w in range(2)]
    for worker in workers:
        worker.start()
    try:
        outcomes = dict(queue.get(timeout=90) for _ in workers)
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
                worker.join()
        queue.close()
        queue.join_thread()
    errors = {name: out for name, out in outcomes.items() if isinstance(out, str)}
    assert not errors, errors
    assert [worker.exitcode for worker in workers] == [0, 0]
    # then every job was leased and acked exactly once and none is left
    _check(store, job_ids, list(outcomes.values()))
