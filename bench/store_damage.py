"""Store damage: a live queue on each store is damaged at random behind its back (bench/damage.py) while it
keeps being used, and must keep serving: no call raises (but a stale lease's documented refusals), no job is
handed out while an earlier lease of it still runs, and in the end every job is done or dead-lettered with a
reason, except jobs whose own record was deleted, which may vanish.

    python bench/store_damage.py [--corruptions 10000] [--stores redis,sqlite] [--seed 1] [--keep-jobs-hash]

Prints, per store, how many corruptions of which kind it survived, what it did with the damaged jobs, and the
time taken. docs/store-damage.md quotes it. The contract test tests/contracts/test_store_damage.py runs the
same `DamageRun` on fewer corruptions.
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.damage import Damage, Damager, RedisDamager, SQLiteDamager
from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.clock import FakeClock
from scheduler.config import SchedulerConfig
from scheduler.errors import StaleLeaseError
from scheduler.ids import new_job_id
from scheduler.job import JobState, Lease, NewJob
from scheduler.queue import Scheduler
from scheduler.registry import JobTypeRegistry
from scheduler.store import JobStore

T0 = 1_700_000_000_000
TTL = 1_001
LEVELS = 3
GRACE_MS = 300_000  # what the stores give a running job whose lease entry or expiry was lost
DRAIN_STEP_MS = GRACE_MS + 10 * TTL


class Violation(AssertionError):
    """The store broke a promise under damage: the message says which, and the last damage done."""


@dataclass
class Held:
    lease: Lease
    expires_ms: int


@dataclass
class DamageRun:
    """A queue used by one worker while `damager` damages it. `step(rng)` does one random operation (or one
    damage: `damage(rng)`); `finish()` drains the queue and checks that every job is accounted for."""

    store: JobStore
    damager: Damager
    now: int = T0
    created: set[str] = field(default_factory=set)
    held: dict[str, Held] = field(default_factory=dict)
    exempt: set[str] = field(default_factory=set)  # their own state was damaged: who holds them is unknown
    may_vanish: set[str] = field(default_factory=set)
    wiped: set[str] = field(default_factory=set)  # created before the whole jobs hash was deleted
    kinds: Counter[str] = field(default_factory=Counter)
    stale_refusals: int = 0
    last_damage: str = ""
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock = FakeClock(self.now)
        # retention keeps every dead letter: a job that leaves must have left because of the damage
        config = SchedulerConfig(dead_letter_max_age_s=10**13, dead_letter_max_count=10**9)
        self.scheduler = Scheduler(self.store, config, JobTypeRegistry(BUILTIN_TYPES), self.clock)

    # -- damage ----------------------------------------------------------------------------------------

    def damage(self, rng: random.Random) -> Damage:
        done = self.damager.damage(rng)
        self.kinds["DEL jobs" if done.all_lost else done.what.split(" ", 1)[0]] += 1
        self.last_damage = done.what
        self.log.append(done.what)
        if done.job_id is not None and done.lost_state:
            self.exempt.add(done.job_id)
        if done.job_id is not None and done.lost_record:
            self.may_vanish.add(done.job_id)
        if done.all_lost:
            self.may_vanish |= self.created
            self.wiped |= self.created
        return done

    def _about(self, job_id: str) -> str:
        """The damage done to one job, for a violation's message."""
        return f"(damage to it: {[what for what in self.log if job_id in what] or 'none'})"

    # -- operations ------------------------------------------------------------------------------------

    def step(self, rng: random.Random) -> None:
        ops: list[tuple[Callable[[random.Random], None], int]] = [
            (self._submit, 14),
            (self._lease, 20),
            (self._heartbeat, 8),
            (self._ack, 14),
            (self._fail, 8),
            (self._release, 4),
            (self._advance, 10),
            (self._maintain, 5),
            (self._read, 8),
            (self._retry_dead, 2),
        ]
        op = rng.choices([o for o, _ in ops], weights=[w for _, w in ops])[0]
        self.clock.advance((self.now - self.clock.now_ms()) / 1000)  # the scheduler follows the run's clock
        op(rng)

    def _submit(self, rng: random.Random) -> None:
        jobs = [self._new_job(rng) for _ in range(rng.randint(1, 4))]
        for result in self.store.submit(jobs, self.now):
            if result.created:
                self.created.add(result.job_id)

    def _new_job(self, rng: random.Random) -> NewJob:
        tenant, level = rng.choice("abc"), rng.randrange(LEVELS)
        key = rng.choice([None, None, None, "k1", "k2"])
        deadline = rng.choice([None, self.now + 60_000])
        payload = "{}"
        return NewJob(new_job_id(), "noop", tenant, "batch", level, payload, self.now, 3, key, None, deadline)

    def _lease(self, rng: random.Random) -> None:
        leases = self.store.lease(rng.randint(1, 4), "w", ttl_ms=TTL, now_ms=self.now)
        seen: set[str] = set()
        for lease in leases:
            job_id = lease.job.id
            earlier = self.held.get(job_id)
            running = earlier is not None and earlier.expires_ms > self.now
            if (running or job_id in seen) and job_id not in self.exempt:
                raise Violation(f"job {job_id} handed out while an earlier lease of it runs (last: {self.last_damage})")
            seen.add(job_id)
            self.held[job_id] = Held(lease, self.now + TTL)

    def _pick(self, rng: random.Random) -> Held | None:
        return self.held[rng.choice(sorted(self.held))] if self.held else None

    def _heartbeat(self, rng: random.Random) -> None:
        held = self._pick(rng)
        if held is not None and self.store.heartbeat([held.lease.ref], TTL, self.now) == [True]:
            held.expires_ms = self.now + TTL

    def _ack(self, rng: random.Random) -> None:
        held = self._pick(rng)
        if held is not None:
            self.store.ack([held.lease.ref], self.now)
            del self.held[held.lease.job.id]

    def _fail(self, rng: random.Random) -> None:
        held = self._pick(rng)
        if held is not None:
            del self.held[held.lease.job.id]
            retry = rng.choice([None, self.now + 505])
            with self._stale_allowed():
                self.store.fail(held.lease.ref, "boom", self.now, retry)

    def _release(self, rng: random.Random) -> None:
        held = self._pick(rng)
        if held is not None:
            del self.held[held.lease.job.id]
            with self._stale_allowed():
                self.store.release(held.lease.ref, "preempted", self.now, dead=rng.random() < 0.3)

    def _advance(self, rng: random.Random) -> None:
        self.now += rng.choice([10, 500, 2_000])

    def _maintain(self, rng: random.Random) -> None:
        self.scheduler.maintain()

    def _read(self, rng: random.Random) -> None:
        self.store.stats()
        self.store.dead_letters(limit=50)
        for job_id in rng.sample(sorted(self.created), min(3, len(self.created))):
            self.store.get(job_id)

    def _retry_dead(self, rng: random.Random) -> None:
        self.store.retry_dead([job.id for job in self.store.dead_letters(limit=3)], self.now)

    def _stale_allowed(self) -> Any:
        run = self

        class Allowed:
            def __enter__(self) -> None:
                return None

            def __exit__(self, kind: object, exc: object, tb: object) -> bool:
                if isinstance(exc, StaleLeaseError):  # damage may take a lease away: refused, as documented
                    run.stale_refusals += 1
                    return True
                return False

        return Allowed()

    # -- the end ---------------------------------------------------------------------------------------

    def finish(self) -> Counter[str]:
        """Drain: time moves past every lease, grace and retry; the audit sweeps; every job is leased and
        acked until nothing is left. Then every job must be done or dead with a reason, or may have vanished.
        Returns the jobs' ends (done, dead, vanished)."""
        self.held.clear()
        quiet = 0
        for _ in range(60):
            self.now += DRAIN_STEP_MS
            for _ in range(3):
                self.store.reap(self.now, limit=1000)
            leased = 0
            while leases := self.store.lease(100, "drain", ttl_ms=TTL, now_ms=self.now):
                leased += len(leases)
                self.store.ack([lease.ref for lease in leases], self.now)
            quiet = quiet + 1 if leased == 0 else 0
            if quiet >= 2:
                break
        return self._account()

    def _account(self) -> Counter[str]:
        ends: Counter[str] = Counter()
        for job_id in sorted(self.created):
            job = self.store.get(job_id)
            if job is None:
                if job_id not in self.may_vanish:
                    raise Violation(f"job {job_id} vanished though its record was never deleted {self._about(job_id)}")
                ends["vanished with the jobs hash" if job_id in self.wiped else "vanished with its record"] += 1
            elif job.state == JobState.DONE:
                ends["done"] += 1
            elif job.state == JobState.DEAD:
                if not job.error:
                    raise Violation(f"job {job_id} is dead without a reason {self._about(job_id)}")
                ends["dead"] += 1
            else:
                raise Violation(f"job {job_id} is still {job.state} after the drain {self._about(job_id)}")
        return ends


@dataclass(frozen=True)
class Outcome:
    store: str
    corruptions: int
    operations: int
    seconds: float
    ends: Counter[str]
    kinds: Counter[str]
    stale_refusals: int


def survive(run: DamageRun, rng: random.Random, corruptions: int, ops_per_damage: int = 3) -> tuple[int, int]:
    """Alternate operations and damage until `corruptions` were done; returns (corruptions, operations)."""
    operations = 0
    for _ in range(20):
        run.step(rng)  # a queue to damage
        operations += 1
    for _ in range(corruptions):
        run.damage(rng)
        for _ in range(ops_per_damage):
            run.step(rng)
            operations += 1
    return corruptions, operations


def open_store(kind: str, folder: str, wipe: bool = True) -> tuple[JobStore, Damager, Callable[[], None]]:
    """A fresh store of `kind`, its damager, and how to clean up."""
    if kind == "sqlite":
        from scheduler.sqlite_store import SQLiteStore

        path = str(Path(folder) / f"damage-{uuid.uuid4().hex[:8]}.db")
        sqlite = SQLiteStore(path, levels=LEVELS, finished_retention=10**9)
        return sqlite, SQLiteDamager(path), sqlite.close
    import redis

    from scheduler.redis_store import RedisStore

    namespace = f"damage-{uuid.uuid4().hex[:8]}"
    client = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    store = RedisStore(client, levels=LEVELS, namespace=namespace, finished_retention=10**9)

    def close() -> None:
        store.purge()
        store.close()

    return store, RedisDamager(client, namespace, wipe), close


def measure(kind: str, corruptions: int, seed: int, folder: str, wipe: bool = True) -> Outcome:
    store, damager, close = open_store(kind, folder, wipe)
    try:
        run = DamageRun(store, damager)
        started = time.perf_counter()
        done, operations = survive(run, random.Random(seed), corruptions)
        ends = run.finish()
        return Outcome(kind, done, operations, time.perf_counter() - started, ends, run.kinds, run.stale_refusals)
    finally:
        close()


class CountingHandler(logging.Handler):
    """Counts the warnings the stores log (what an operator sees), by their first words, instead of printing."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        words = record.getMessage().split()
        shown = words[:3] if words[0] != "job" else ["job", "<id>", *words[2:3]]
        self.counts[re.sub(r"\d+", "N", " ".join(shown))] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corruptions", type=int, default=10_000, help="random corruptions per store")
    parser.add_argument("--stores", default="redis,sqlite", help="comma-separated: redis, sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-jobs-hash", action="store_true", help="Redis: never delete the whole jobs hash")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.stores.split(","):
            handler = CountingHandler()
            logging.getLogger("scheduler").addHandler(handler)
            logging.getLogger("scheduler").propagate = False
            try:
                outcome = measure(kind, args.corruptions, args.seed, folder, not args.keep_jobs_hash)
            finally:
                logging.getLogger("scheduler").removeHandler(handler)
            print(
                f"{kind}: survived {outcome.corruptions} corruptions among {outcome.operations} operations in "
                f"{outcome.seconds:.1f} s; jobs at the end: {dict(outcome.ends)}; stale-lease refusals: "
                f"{outcome.stale_refusals}"
            )
            print(f"  corruptions by kind: {dict(sorted(outcome.kinds.items()))}")
            print(f"  warnings logged: {dict(handler.counts.most_common())}")


if __name__ == "__main__":
    main()
