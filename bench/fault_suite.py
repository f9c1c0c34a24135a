"""The whole fault suite at once (issue 9), shared by tests/faults/test_fault_suite.py and bench/faults.py.

A multi-node Ray cluster whose own autoscaler launches nodes (FakeAutoscalingCluster with the demo's node types),
two `ebbflow head` processes on it (each dispatches; the one holding the leader lease also runs cron,
maintenance and our autoscaler), the second on a wall clock a minute ahead (bench/skewed_clock.py), kept
running by a supervisor, and the queue on a private redis-server with its append-only file on. The load:
fault.record jobs submitted in waves (with idempotency keys, retried through store outages), a minutely cron
schedule, the misbehaving types (raise, hang past the time limit, kill the worker process), and whatever
`during` runs beside it (the test runs every pack there). A seeded schedule of faults goes off every few seconds:

* preempt: every process of a random spot node gets SIGKILL at once, with no notice;
* notice: the node is drained as a preemption first (the 2-minute notice, shortened to notice_s), then killed;
* head: SIGKILL of the leading `ebbflow head` (found by its /metrics), started again; another head leads
  after the lease TTL (the failover time is measured until a head's /metrics say it leads);
* redis-kill: kill -9 of redis-server, started again from its AOF after redis_down_s;
* redis-pause: SIGSTOP of redis-server for longer than a lease;
* redis-busy: a Lua script from another client holds redis-server for busy_s (every other client gets BUSY),
  then SCRIPT KILL; the heads must wait it out, not exit;
* redis-replica: a replica of redis-server is promoted and redis-server made its replica for replica_s (every
  write gets READONLY, as after a failover the clients have not followed), then promoted back with the
  replica's data (bench/redis_switchover.py); the heads must wait it out;
* redis-evict: EVICT_BURST more records submitted, then the queue's fencing counter and turn order
  deleted, as an evicting maxmemory-policy would; the scripts must repair them with nothing lost or
  run twice.

The heads' decision logs are audited afterwards (bench/launch_audit.py): no two heads launched within one
period, and the guard's caps per round and per hour held for both together.

`run_suite` returns a SuiteReport (bench/fault_suite_report.py) counted from the queue and the effects ledger.
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import ray
from pydantic import TypeAdapter

from autoscaler.fake_cluster import FakeAutoscalingCluster
from autoscaler.fleet import NodeType
from bench.busy_redis import busy_script
from bench.fault_harness import Supervisor, ebbflow_environment, read_effects, submit_record
from bench.fault_jobs import MISBEHAVING, RECORD_TYPE, open_effects
from bench.fault_suite_report import CapacitySample, FaultOutcome, SuiteReport, capacity_back_s, capacity_kept
from bench.launch_audit import LaunchAudit, audit, read_rounds
from bench.private_redis import RedisServer, redis_server
from bench.redis_switchover import demoted
from bench.suite_heads import SuiteHeads
from dispatcher.drain import DrainRefusedError, drain_node
from dispatcher.local_cluster import FAST_FAILURE_DETECTION, node_pids, sigkill_all
from dispatcher.markets import MARKET_RESOURCE, Market
from ebbflow.config import load_settings
from ebbflow.demo.fleet import DEMO_NODE_TYPES
from ebbflow.demo.setup import demo_settings
from ebbflow.stores import open_scheduler
from scheduler.errors import StoreUnavailableError
from scheduler.job import Job, JobState
from scheduler.queue import Scheduler
from scheduler.redis_store import RedisStore

FaultKind = Literal[
    "preempt", "notice", "head", "redis-kill", "redis-pause", "redis-busy", "redis-replica", "redis-evict"
]
ALL_FAULTS: tuple[FaultKind, ...] = (
    "preempt",
    "notice",
    "head",
    "redis-kill",
    "redis-pause",
    "redis-busy",
    "redis-replica",
    "redis-evict",
)
SPOT = MARKET_RESOURCE[Market.SPOT]
SAMPLE_EVERY_S = 1.0
EVICT_BURST = 20  # records submitted just before the redis-evict fault


@dataclass(frozen=True)
class SuiteRun:
    records: int = 300
    record_sleep_s: float = 0.3
    waves: int = 12  # the records arrive in this many waves, spread evenly over the faults' time
    misbehaving: int = 1  # jobs of each misbehaving type
    faults: Sequence[FaultKind] = ("preempt", "notice", "head", "preempt", "redis-kill", "notice", "redis-pause")
    first_fault_s: float = 25.0  # after the head starts: the autoscaler's first spot nodes are up by then
    fault_every_s: float = 8.0
    notice_s: float = 4.0
    lease_ttl_s: float = 6.0
    redis_down_s: float = 1.0
    busy_s: float = 4.0  # redis-busy: how long the script holds the server
    replica_s: float = 4.0  # redis-replica: how long the server stays a replica (READONLY)
    heads: int = 2
    skew_s: float = 60.0  # every head after the first runs on a wall clock this far ahead
    leader_ttl_s: float = 4.0  # short, so a killed leader is replaced within seconds
    leader_renew_every_s: float = 1.0
    failover_limit_s: float = 30.0  # a killed leader not replaced by then fails the run
    seed: int = 9
    settle_s: float = 300.0
    node_wait_s: float = 45.0  # a node fault waits this long for a spot node to be up, then is skipped
    extra_env: Mapping[str, str] = field(default_factory=dict)  # more configuration (the packs' stores)
    calm: bool = False  # the same load on the same schedule, no fault injected: the baseline

    @property
    def pause_s(self) -> float:
        return self.lease_ttl_s + 2.0  # longer than a lease: every lease held at the pause expires


@dataclass(frozen=True)
class SuiteHandle:
    """What `during` gets: the environment every ebbflow process of the suite runs with, and a scratch folder."""

    env: dict[str, str]
    folder: Path


def run_suite(
    run: SuiteRun,
    during: Callable[[SuiteHandle], None] | None = None,
    on_event: Callable[[str], None] = lambda what: None,
) -> SuiteReport:
    with tempfile.TemporaryDirectory() as scratch, redis_server(appendonly=True) as server:
        folder = Path(scratch)
        with ebbflow_environment(_settings(run, server, folder)) as env:
            cluster = FakeAutoscalingCluster(DEMO_NODE_TYPES, system_config=FAST_FAILURE_DETECTION)
            with cluster:
                ray.init(address=cluster.address, configure_logging=False, log_to_driver=False)
                try:
                    suite = _Suite(run, server, folder, env, cluster.address, on_event)
                    return suite.run(during)
                finally:
                    ray.shutdown()


def _settings(run: SuiteRun, server: RedisServer, folder: Path) -> dict[str, str]:
    effects = folder / "effects.db"
    open_effects(str(effects)).close()
    minutely = {"name": "minutely", "cron": "* * * * *", "type": "fault.record", "pass_tick": True}
    scaling = demo_settings(folder, "http://127.0.0.1:1").autoscaler  # the demo's policy for the demo's nodes
    scaling_json = scaling.model_dump(mode="json") | {
        "log_path": str(folder / "autoscaler.jsonl"),
        "spot_prices": "node_types",  # no EC2 here: each spot type's expected price, a third of on demand
    }
    node_types = [
        replace(t, spot_price=round(t.ondemand_price / 3, 4)) if t.market is Market.SPOT else t for t in DEMO_NODE_TYPES
    ]
    scaling_json["node_types"] = TypeAdapter(list[NodeType]).dump_python(node_types, mode="json")
    return {
        "EBBFLOW_STORE": "redis",
        "EBBFLOW_REDIS__URL": server.url,
        "EBBFLOW_REDIS__NAMESPACE": f"suite-{uuid.uuid4().hex[:12]}",
        "EBBFLOW_JOB_TYPES": json.dumps(["bench.fault_jobs:TYPES"]),
        "EBBFLOW_SCHEDULER__LEASE_TTL_S": str(run.lease_ttl_s),
        "EBBFLOW_SCHEDULER__BACKOFF_BASE_S": "0.2",
        "EBBFLOW_SCHEDULER__BACKOFF_MAX_S": "1",
        "EBBFLOW_HEAD__MAINTAIN_EVERY_S": "1",
        "EBBFLOW_HEAD__CRON_EVERY_S": "1",
        "EBBFLOW_HEAD__LEADER_TTL_S": str(run.leader_ttl_s),
        "EBBFLOW_HEAD__LEADER_RENEW_EVERY_S": str(run.leader_renew_every_s),
        "EBBFLOW_CRON": json.dumps([minutely | {"payload": {"effects": str(effects)}}]),
        "EBBFLOW_AUTOSCALER": json.dumps(scaling_json),
        "EBBFLOW_SQLITE__PATH": str(folder / "unused.db"),
        **run.extra_env,
    }


class _Suite:
    def __init__(
        self,
        run: SuiteRun,
        server: RedisServer,
        folder: Path,
        env: dict[str, str],
        address: str,
        on_event: Callable[[str], None],
    ) -> None:
        self.run_, self.server, self.on_event = run, server, on_event
        self.effects = folder / "effects.db"
        self.settings = load_settings()
        self.scheduler: Scheduler = open_scheduler(self.settings)
        self.heads = SuiteHeads(run.heads, run.skew_s, address, folder, env["EBBFLOW_AUTOSCALER"])
        self.head = Supervisor(env, folder, command=self.heads.command, env_for=self.heads.env)
        self.handle = SuiteHandle(env, folder)
        self.folder = folder
        self.rng = random.Random(run.seed)
        self.records: list[str] = []
        self.misbehaving: dict[str, list[str]] = {}
        self.samples: list[CapacitySample] = []
        self.outcomes: list[FaultOutcome] = []
        self._started = 0.0
        self._next_sample = 0.0
        self._waves: list[tuple[float, int]] = []  # (when, how many records), in time order
        self._submitting = False

    # -- the run ---------------------------------------------------------------------------------------

    def run(self, during: Callable[[SuiteHandle], None] | None) -> SuiteReport:
        run = self.run_
        self._submit_misbehaving()
        self.head.start(self.run_.heads)
        self._started = time.monotonic()
        beside = _Beside(during, self.handle)
        try:
            faults = list(run.faults)
            self.rng.shuffle(faults)
            span_s = run.first_fault_s + len(faults) * run.fault_every_s
            self._waves = [
                (n * span_s / run.waves, run.records * (n + 1) // run.waves - run.records * n // run.waves)
                for n in range(run.waves)
            ]
            for number, kind in enumerate(faults):
                self._idle_until(run.first_fault_s + number * run.fault_every_s)
                if run.calm:
                    continue
                self.outcomes.append(self._inject(kind))
                self.on_event(f"{len(self.outcomes)} of {len(faults)} faults: {self.outcomes[-1].what}")
            self._idle_until(span_s)
            self._idle_until_settled(beside)
            elapsed_s = self._now()
        finally:
            self.head.stop()
            beside.join()
        try:
            return self._count(elapsed_s)
        finally:
            self.scheduler.store.purge()
            self.scheduler.store.close()

    def _now(self) -> float:
        return time.monotonic() - self._started

    def _idle_until(self, at_s: float) -> None:
        while self._now() < at_s:
            self._tick()

    def _hold(self, seconds: float) -> None:
        """Supervise (a head that exits is seen and started again) and sample for `seconds`, submitting no wave:
        a submit would wait for the store this fault holds, and the fault ends only after this returns."""
        submitting, self._submitting = self._submitting, True
        try:
            self._idle_until(self._now() + seconds)
        finally:
            self._submitting = submitting

    def _idle_until_settled(self, beside: _Beside) -> None:
        deadline = self._now() + self.run_.settle_s
        while not (beside.done() and self._settled()):
            if self._now() > deadline:
                raise TimeoutError(f"the suite did not settle within {self.run_.settle_s:.0f} s: {self._stats()}")
            self._tick()
        beside.raise_failure()

    def _tick(self) -> None:
        """One beat of the supervision loop: restart what exited, submit a wave that is due, sample the
        capacity."""
        self.head.keep_running()
        if self._waves and self._now() >= self._waves[0][0] and not self._submitting:
            self._submit_records(self._waves.pop(0)[1])
        if self._now() >= self._next_sample:
            self._next_sample = self._now() + SAMPLE_EVERY_S
            stats = self._stats()
            waiting = -1 if stats is None else sum(stats.pending.values()) + stats.delayed
            self.samples.append(CapacitySample(self._now(), _spot_slots(), waiting))
        time.sleep(0.2)

    # -- load --------------------------------------------------------------------------------------------

    def _submit_records(self, count: int) -> None:
        self._submitting = True  # a submit retried through an outage ticks the loop: no wave inside a wave
        try:
            first = len(self.records)
            for number in range(first, first + count):
                self.records.append(self._retrying(self.effects, number))
        finally:
            self._submitting = False

    def _submit_misbehaving(self) -> None:
        for job_type in MISBEHAVING:
            self.misbehaving[job_type] = [
                self.scheduler.submit(job_type, {"n": n}, tenant="misbehaving", max_attempts=2).job_id
                for n in range(self.run_.misbehaving)
            ]

    def _retrying(self, effects: Path, number: int) -> str:
        """A record's submit retried through a store outage: its idempotency key makes a retry of one that did
        get through return the same job."""
        deadline = time.monotonic() + 60
        while True:
            try:
                return submit_record(self.scheduler, effects, number, self.run_.record_sleep_s)
            except StoreUnavailableError:
                if time.monotonic() > deadline:
                    raise
                self._tick()

    # -- faults ------------------------------------------------------------------------------------------

    def _inject(self, kind: FaultKind) -> FaultOutcome:
        """The fault, with the head restarts from its start until work resumed (a killed head's own included)."""
        restarts = self.head.restarts
        outcome = self._inject_one(kind)
        return replace(outcome, kind=kind, head_restarts=self.head.restarts - restarts)

    def _inject_one(self, kind: FaultKind) -> FaultOutcome:
        at_s = self._now()
        stats = self._stats()
        # fault.record jobs in flight may still record their effects after the fault: more than that is new work
        in_flight = (
            0 if stats is None else sum(n for (_, job_type), n in stats.running.items() if job_type == RECORD_TYPE)
        )
        before = self._effect_count()
        note = ""
        failover_s: float | None = None
        slots_before = _spot_slots()
        if kind in ("preempt", "notice"):
            victim = self._spot_node()
            if victim is None:
                return FaultOutcome(f"{kind}: no spot node came up to take down", at_s, 0.0, note="skipped")
            slots_before = _spot_slots()
            what = self._take_down(victim, notice=kind == "notice")
            note = "node"
        elif kind == "head":
            what, failover_s = self._kill_the_leader()
        elif kind == "redis-kill":
            self.server.kill()
            time.sleep(self.run_.redis_down_s)
            self.server.start()
            what = f"kill -9 of redis-server, {self.run_.redis_down_s:.0f} s down, started from its AOF"
        elif kind == "redis-pause":
            self.server.pause()
            time.sleep(self.run_.pause_s)
            self.server.resume()
            what = f"redis-server paused {self.run_.pause_s:.0f} s (lease TTL {self.run_.lease_ttl_s:.0f} s)"
        elif kind == "redis-evict":
            what = self._evict()
        elif kind == "redis-busy":
            with busy_script(self.server):
                self._hold(self.run_.busy_s)
            held_s = self._now() - at_s  # as it was, from the script's start to the SCRIPT KILL's end
            what = f"a Lua script held redis-server {held_s:.0f} s (BUSY to all others), then SCRIPT KILL"
        else:
            replica = self.folder / f"replica-{len(self.outcomes)}"
            replica.mkdir()
            with demoted(self.server, replica):
                self._hold(self.run_.replica_s)
            held_s = self._now() - at_s
            what = f"a replica promoted, redis-server its replica {held_s:.0f} s (READONLY), then promoted back"
        ended_s = self._now()
        waiting = self._stats()
        if waiting is not None and not sum(waiting.pending.values()) + waiting.delayed:
            return FaultOutcome(what, at_s, None, None, note, ended_s, slots_before, idle=True, failover_s=failover_s)
        resumed = self._wait_resumed(max(before, self._effect_count()) + in_flight)
        return FaultOutcome(what, at_s, resumed, None, note, ended_s, slots_before, failover_s=failover_s)

    def _evict(self) -> str:
        """What an evicting Redis does to the queue: keys it depends on vanish (the fencing counter, the
        tenants' turn order). The store refuses a Redis whose maxmemory-policy evicts at
        open (docs/redis.md); this is what is left when one is set behind its back: the scripts repair
        (docs/store-damage.md), and nothing may be lost or run twice."""
        store = self.scheduler.store
        assert isinstance(store, RedisStore)
        self._submit_records(EVICT_BURST)  # work waiting, so the turn order and counts hold something to lose
        # not `depth`: the pending counts are clamped when damaged, not recounted (docs/store-damage.md), so
        # the suite could no longer tell that work waits
        names = ("fence", "turns")
        gone = int(store.client.delete(*(store.keys.prefix + name for name in names)))
        return f"{gone} of the queue's keys evicted ({', '.join(names)})"

    def _kill_the_leader(self) -> tuple[str, float | None]:
        """SIGKILL of the head whose /metrics say it leads (waiting for one to, after an earlier fault); then
        the seconds until a head's /metrics say it leads again (None: not within failover_limit_s)."""
        deadline = self._now() + self.run_.failover_limit_s
        leaders = self.heads.leaders()
        while not leaders and self._now() < deadline:
            self._tick()
            leaders = self.heads.leaders()
        victim = leaders[0] if leaders else 0
        self.head.processes[victim].kill()
        killed_s = self._now()
        what = f"SIGKILL of the leading ebbflow head, {self.heads.describe(victim)}, started again"
        if not leaders:
            what = f"SIGKILL of {self.heads.describe(victim)} (no head said it led), started again"
        while self._now() - killed_s < self.run_.failover_limit_s:
            leaders = self.heads.leaders()
            if leaders:
                return f"{what}; {self.heads.describe(leaders[0])} led next", self._now() - killed_s
            self._tick()
        return what, None

    def _spot_node(self) -> dict[str, Any] | None:
        deadline = self._now() + self.run_.node_wait_s
        while self._now() < deadline:
            nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
            alive = sorted((n for n in nodes if n["Alive"] and n["Resources"].get(SPOT, 0) >= 1), key=_node_id)
            if alive:
                return self.rng.choice(alive)
            self._tick()
        return None

    def _take_down(self, node: dict[str, Any], notice: bool) -> str:
        pids = node_pids(node["RayletSocketName"])
        if notice:
            try:
                drain_node(_node_id(node), "preemption", self.run_.notice_s)
            except DrainRefusedError as err:
                return f"drain refused ({err}); not counted"
            self._idle_until(self._now() + self.run_.notice_s)
        sigkill_all(pids)
        told = f"{self.run_.notice_s:.0f} s notice (drain), then " if notice else "no notice: "
        return f"spot node lost, {told}SIGKILL of its {len(pids)} processes"

    def _wait_resumed(self, beyond: int) -> float | None:
        """Seconds until more than `beyond` effects are on record (the jobs in flight at the fault may have
        finished meanwhile: only one more than those shows new work done); None after the settle limit."""
        started = self._now()
        while self._effect_count() <= beyond:
            if self._now() - started > self.run_.settle_s / 2:
                return None
            self._tick()
        return self._now() - started

    # -- reading ---------------------------------------------------------------------------------------

    def _stats(self) -> Any:
        try:
            return self.scheduler.store.stats()
        except StoreUnavailableError:
            return None

    def _settled(self) -> bool:
        stats = self._stats()
        return stats is not None and stats.settled

    def _effect_count(self) -> int:
        connection = open_effects(str(self.effects))
        try:
            return int(connection.execute("SELECT count(*) FROM effects").fetchone()[0])
        finally:
            connection.close()

    def _count(self, elapsed_s: float) -> SuiteReport:
        jobs = {job_id: self.scheduler.get(job_id) for job_id in [*self.records, *_flat(self.misbehaving)]}
        ended = {job_id for job_id, job in jobs.items() if job and job.state in (JobState.DONE, JobState.DEAD)}
        dead = self.scheduler.store.dead_letters(limit=100_000)
        expected_dead = {
            job_type: (len(ids), sum(1 for i in ids if _died_of(jobs[i], reason)))
            for (job_type, ids), reason in zip(self.misbehaving.items(), MISBEHAVING.values(), strict=True)
        }
        ledger = read_effects(self.effects)
        ticks = {name: ids for name, ids in ledger.jobs_by_effect.items() if name.startswith("tick-")}
        stats = self.scheduler.store.stats()
        faults = [
            replace(
                fault,
                capacity_back_s=capacity_back_s(self.samples, fault.ended_s, fault.slots_before),
                capacity_kept=capacity_kept(self.samples, fault.ended_s, fault.slots_before),
            )
            if fault.note == "node"
            else fault
            for fault in self.outcomes
        ]
        return SuiteReport(
            faults=faults,
            records=len(self.records),
            records_done=sum(1 for i in self.records if _state(jobs[i]) is JobState.DONE),
            misbehaving=expected_dead,
            dead=len(dead),
            dead_without_reason=sum(1 for job in dead if not job.error),
            unexpected_dead=[f"{job.id} {job.type}: {job.error}" for job in dead if job.type not in MISBEHAVING],
            lost=len(jobs) - len(ended),
            duplicated_effects=ledger.duplicated,
            runs_beyond_one=ledger.runs - len(ledger.job_ids),
            leases_left=sum(stats.running.values()),
            cron_ticks=len(ticks),
            doubled_ticks=sum(1 for ids in ticks.values() if len(ids) > 1),
            head_restarts=self.head.restarts,
            elapsed_s=elapsed_s,
            capacity=self.samples,
            heads=self.run_.heads,
            skew_s=self.run_.skew_s,
            launches=self._audit_launches(),
        )

    def _audit_launches(self) -> LaunchAudit:
        rounds = [r for n in range(self.run_.heads) for r in read_rounds(self.heads.log_path(n), n)]
        scaling = self.settings.autoscaler
        guard = scaling.guard
        return audit(rounds, scaling.period_s, guard.max_launch_per_decision, guard.max_launch_per_hour)


class _Beside:
    """`during`, run on its own thread while the faults go off; its failure is raised at the end."""

    def __init__(self, during: Callable[[SuiteHandle], None] | None, handle: SuiteHandle) -> None:
        self.failure: BaseException | None = None
        self.thread: threading.Thread | None = None
        if during is not None:
            self.thread = threading.Thread(target=self._run, args=(during, handle), daemon=True)
            self.thread.start()

    def _run(self, during: Callable[[SuiteHandle], None], handle: SuiteHandle) -> None:
        try:
            during(handle)
        except BaseException as err:  # handed to the main thread
            self.failure = err

    def done(self) -> bool:
        return self.thread is None or not self.thread.is_alive()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join(timeout=60)

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure


def _spot_slots() -> int:
    nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    return int(sum(node["Resources"].get(SPOT, 0) for node in nodes if node["Alive"]))


def _node_id(node: Mapping[str, Any]) -> str:
    return str(node["NodeID"])


def _state(job: Job | None) -> JobState | None:
    return None if job is None else job.state


def _died_of(job: Any, reason: str) -> bool:
    return job is not None and job.state is JobState.DEAD and reason in (job.error or "")


def _flat(groups: Mapping[str, Sequence[str]]) -> list[str]:
    return [job_id for ids in groups.values() for job_id in ids]
