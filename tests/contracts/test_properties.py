"""JobStore contract, property: random submit/lease/ack/fail/release/heartbeat/expire sequences never lose a job.

A small model predicts each job's state and attempts from the operations alone (not which job a lease
picks: that is read from the store). After every step each job must be in exactly the predicted state,
and stats() and dead_letters() must agree with the jobs' states.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from scheduler.errors import StaleLeaseError
from scheduler.job import JobState, LeaseRef
from scheduler.store import JobStore
from tests.stores import T0, RedisUnavailableError, close_store, make_store, new_job, nonzero

TTL = 1_001  # lease expiries are 1 (mod 10) while the clock moves in steps of 10: never exactly on a boundary
RETRY_AFTER = 505  # likewise for retry times
MAX_ATTEMPTS = 3
ACTIVE = {JobState.PENDING, JobState.DELAYED, JobState.RUNNING}

pick = st.integers(0, 1_000)
SUBMIT = st.tuples(
    st.just("submit"),
    st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 2), st.sampled_from([None, None, "k1", "k2"])),
        min_size=1,
        max_size=3,
    ),
)
# one_of draws its branches about evenly: two lease branches make leases come up twice as often
LEASES = (st.tuples(st.just("lease"), st.integers(1, 2)), st.tuples(st.just("lease"), st.integers(2, 3)))
OPS = st.one_of(
    SUBMIT,
    *LEASES,
    st.tuples(st.just("ack"), pick),
    st.tuples(st.just("fail"), pick, st.sampled_from([True, True, False])),  # True: retry later
    st.tuples(st.just("release"), pick, st.sampled_from([False, False, True])),  # True: dead
    st.tuples(st.just("heartbeat"), pick),
    st.tuples(st.just("stale"), pick, st.sampled_from(["ack", "fail", "release", "heartbeat", "checkpoint"])),
    st.tuples(st.just("advance"), st.sampled_from([10, 500, 2_000])),
    st.tuples(st.just("reap")),
)
SEQUENCES = st.tuples(st.lists(SUBMIT, min_size=1, max_size=3), st.lists(OPS, min_size=10, max_size=60)).map(
    lambda parts: parts[0] + parts[1]
)


@dataclass
class ModelJob:
    level: int
    type: str
    key: tuple[str, str] | None  # (tenant, key): idempotency keys are per tenant
    state: JobState = JobState.PENDING
    attempts: int = 0
    token: int = 0  # meaningful while running
    expires_ms: int = 0  # likewise
    retry_at_ms: int = 0  # meaningful while delayed


@dataclass
class Model:
    now: int = T0
    jobs: dict[str, ModelJob] = field(default_factory=dict)
    refs: list[LeaseRef] = field(default_factory=list)  # every lease ever granted
    max_token: int = 0

    def expire(self) -> int:
        count = 0
        for job in self.jobs.values():
            if job.state == JobState.RUNNING and job.expires_ms < self.now:
                count += 1
                job.attempts += 1
                job.state = JobState.DEAD if job.attempts >= MAX_ATTEMPTS else JobState.PENDING
        return count

    def live(self, i: int) -> tuple[str, ModelJob] | None:
        running = sorted(
            (k, j) for k, j in self.jobs.items() if j.state == JobState.RUNNING and j.expires_ms > self.now
        )
        return running[i % len(running)] if running else None

    def holder(self, key: tuple[str, str] | None) -> str | None:
        if key is None:
            return None
        return next((k for k, j in self.jobs.items() if j.key == key and j.state in ACTIVE), None)


def step(store: JobStore, model: Model, op: tuple[Any, ...]) -> None:  # noqa: PLR0915 - one branch per operation
    kind = op[0]
    if kind == "submit":
        batch = [
            new_job(tenant=t, level=lvl, key=key, max_attempts=MAX_ATTEMPTS, created_ms=model.now)
            for t, lvl, key in op[1]
        ]
        expected = []
        for submitted in batch:
            key = None if submitted.key is None else (submitted.tenant, submitted.key)
            holder = model.holder(key)
            if holder is None:
                model.jobs[submitted.id] = ModelJob(submitted.level, submitted.type, key)
                expected.append((submitted.id, True))
            else:
                expected.append((holder, False))
        assert [(r.job_id, r.created) for r in store.submit(batch, now_ms=model.now)] == expected
    elif kind in ("lease", "reap"):
        expired = model.expire()
        if kind == "reap":
            assert store.reap(now_ms=model.now) == expired
            return
        for job in model.jobs.values():
            if job.state == JobState.DELAYED and job.retry_at_ms < model.now:
                job.state = JobState.PENDING
        pending = sum(job.state == JobState.PENDING for job in model.jobs.values())
        leases = store.lease(op[1], "w", ttl_ms=TTL, now_ms=model.now)
        assert len(leases) == min(op[1], pending)
        for lease in leases:
            job = model.jobs[lease.job.id]
            assert job.state == JobState.PENDING, "leased a job that was not pending"
            assert lease.token > model.max_token, "token not larger than every earlier one"
            assert lease.job.attempts == job.attempts
            model.max_token = lease.token
            job.state, job.token, job.expires_ms = JobState.RUNNING, lease.token, model.now + TTL
            model.refs.append(lease.ref)
    elif kind in ("ack", "fail", "release", "heartbeat"):
        live = model.live(op[1])
        if live is None:
            return
        job_id, job = live
        ref = LeaseRef(job_id, job.token)
        if kind == "ack":
            assert store.ack([ref], now_ms=model.now) == [True]
            job.state = JobState.DONE
        elif kind == "heartbeat":
            assert store.heartbeat([ref], ttl_ms=TTL, now_ms=model.now) == [True]
            job.expires_ms = model.now + TTL
        elif kind == "fail":
            job.attempts += 1
            if op[2] and job.attempts < MAX_ATTEMPTS:
                job.retry_at_ms = model.now + RETRY_AFTER
                store.fail(ref, "boom", now_ms=model.now, retry_at_ms=job.retry_at_ms)
                job.state = JobState.DELAYED
            else:
                store.fail(ref, "boom", now_ms=model.now, retry_at_ms=None)
                job.state = JobState.DEAD
        else:
            store.release(ref, "preempted", now_ms=model.now, dead=op[2])
            job.state = JobState.DEAD if op[2] else JobState.PENDING
    elif kind == "stale":
        jobs = model.jobs
        stale = [r for r in model.refs if jobs[r.job_id].state != JobState.RUNNING or jobs[r.job_id].token != r.token]
        # every other time prefer an old token of a job that runs again under a newer one (the riskiest case)
        running_again = [r for r in stale if jobs[r.job_id].state == JobState.RUNNING]
        if running_again and op[1] % 2 == 0:
            stale = running_again
        if not stale:
            return
        ref = stale[op[1] % len(stale)]
        if op[2] == "ack":
            assert store.ack([ref], now_ms=model.now) == [False]
        elif op[2] == "heartbeat":
            assert store.heartbeat([ref], ttl_ms=TTL, now_ms=model.now) == [False]
        else:
            with pytest.raises(StaleLeaseError):
                if op[2] == "fail":
                    store.fail(ref, "late", now_ms=model.now, retry_at_ms=None)
                elif op[2] == "release":
                    store.release(ref, "late", now_ms=model.now)
                else:
                    store.save_checkpoint(ref, "{}")
    elif kind == "advance":
        model.now += op[1]


def check(store: JobStore, model: Model) -> None:
    for job_id, job in model.jobs.items():
        got = store.get(job_id)
        assert got is not None, f"job {job_id} was lost"
        assert (got.state, got.attempts) == (job.state, job.attempts), job_id
        if job.state == JobState.RUNNING:
            assert got.lease is not None and got.lease.token == job.token
    by_state = {s: Counter((j.level, j.type) for j in model.jobs.values() if j.state == s) for s in JobState}
    stats = store.stats()
    assert nonzero(stats.pending) == dict(by_state[JobState.PENDING])
    assert nonzero(stats.running) == dict(by_state[JobState.RUNNING])
    assert (stats.delayed, stats.dead) == (by_state[JobState.DELAYED].total(), by_state[JobState.DEAD].total())
    dead = {k for k, j in model.jobs.items() if j.state == JobState.DEAD}
    assert {job.id for job in store.dead_letters(limit=10_000)} == dead


# No shrink phase: shrinking 60-step sequences against a real store takes minutes; the failing sequence is
# printed as drawn (see the notes, one per step), and check() names the job that went wrong.
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=SEQUENCES)
def test_random_operations_never_lose_a_job(store_kind, tmp_path, ops):
    # given a fresh store per example
    unavailable = None
    try:
        store = make_store(store_kind, tmp_path, levels=3)
    except RedisUnavailableError as exc:
        unavailable = str(exc)
    if unavailable is not None:
        pytest.fail(unavailable, pytrace=False)
    model = Model()
    try:
        for number, op in enumerate(ops):
            # when each operation runs / then every job is where the model says, and the counts agree
            note(f"step {number}: {op} at T0+{model.now - T0}")
            step(store, model, op)
            check(store, model)
    finally:
        try:
            store.purge()
        finally:
            close_store(store)
