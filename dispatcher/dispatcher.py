"""The dispatcher: leases jobs in MLFQ order and runs them as Ray tasks on spot and on-demand nodes.

One thread, one loop (`step`): read the pools' sizes from Ray, lease only as many jobs as free slots can
take (so the MLFQ, not Ray's FIFO, decides what starts next), place them (`placement.place`, following the
autoscaler's on-demand plan while it is live: `follow`), start one Ray task per batch, then report
finished tasks to the scheduler: ack, fail with the traceback, or release the jobs of a node that died.
Every job it holds is heartbeated, so a dispatcher that dies simply lets its leases expire and the jobs run
again; a dispatcher that falls behind finds its leases fenced off and counts those jobs as lost, never
overwriting a newer run.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, Literal

import ray
from ray.exceptions import RayError

from dispatcher.batching import BatchSizer
from dispatcher.capacity import alive_slots, read_slots
from dispatcher.config import DispatcherConfig
from dispatcher.context import SchedulerSource
from dispatcher.inflight import DispatchCounts, Held, RunningTask, StoreOutage
from dispatcher.markets import MARKET_RESOURCE, Market
from dispatcher.ondemand_plan import NO_PLAN, TOP_LEVEL, OnDemandPlan, PlacementAdvice, next_plan
from dispatcher.outcomes import classify, describe
from dispatcher.placement import PoolState, TaskPlan, place
from dispatcher.task import JobResult, run_jobs
from scheduler.errors import SchedulerError, StaleLeaseError, StoreUnavailableError
from scheduler.job import JobState, Lease
from scheduler.queue import Scheduler

log = logging.getLogger(__name__)

Outcome = Literal["done", "retry", "dead", "lost"]

IDLE_WAIT_S = 0.25  # longest wait for a task to finish when no slot is free (keeps heartbeats on time)
WARM_UP_TIMEOUT_S = 30.0
KILL_WAIT_S = 5.0  # after a forced cancel, how long to wait for Ray to report the task gone
STORE_RETRY_S = 0.25  # first wait before asking an unreachable store again; doubles up to the next
STORE_RETRY_MAX_S = 2.0
# A store that refuses writes (Redis OOM, READONLY) still answers the reads that probe it, so the next write
# fails again at once: an outage of the same kind within this many seconds of the last is the same outage.
OUTAGE_GAP_S = 5.0
HINT_SMOOTHING = 0.2
NO_LEVELS: list[int] = []


class Dispatcher:
    def __init__(
        self,
        scheduler: Scheduler,
        config: DispatcherConfig | None = None,
        source: SchedulerSource | None = None,
        name: str = "dispatcher",
        slots: Callable[[], dict[Market, int]] = read_slots,
        clock: Callable[[], float] = time.monotonic,
        on_outcome: Callable[[Lease, Outcome, float], None] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.config = config or DispatcherConfig()
        self.source = source  # lets jobs on workers save checkpoints and progress; None: they cannot
        self.name = name
        self._read_slots = slots
        self.on_outcome = on_outcome  # called with each job's lease, outcome and run seconds as it ends
        self._clock = clock
        registry = scheduler.registry
        self.types = {type_name: registry.get(type_name) for type_name in registry.names()}
        self._runners = {n: t.run for n, t in self.types.items() if t.run is not None}
        # a type that may run on on-demand below the top whatever the plan: any level may use the room there
        self._ondemand_types = any(t.markets in ("any", "on-demand") for t in self.types.values())
        self.ondemand_plan: OnDemandPlan = NO_PLAN  # the autoscaler's word on lower levels (`follow`)
        self.sizer = BatchSizer(self.config.target_task_s, self.config.max_batch)
        self.counts = DispatchCounts()
        self.held: list[Held] = []
        self.running: dict[Any, RunningTask] = {}
        self.slots: dict[Market, int] = dict.fromkeys(Market, 0)
        self._hint = 1.0  # expected jobs per task, smoothed: how many jobs one free slot should lease
        self._stop = False
        self._draining = False
        self._next_slots = 0.0
        self._next_beat = 0.0
        self._beat_every = self.config.heartbeat_every_s or scheduler.config.lease_ttl_s / 3
        self._runners_ref: Any = None
        self._task: Any = None
        self._outage: StoreOutage | None = None  # the store outage being waited out, until a step succeeds

    # -- the loop ------------------------------------------------------------------------------------

    def run(self, until: Callable[[], bool] | None = None, every: Sequence[Callable[[], None]] = ()) -> DispatchCounts:
        """Dispatch until `request_stop()` (SIGTERM) or `until()`, then drain; `every` runs after each step."""
        try:
            self.warm_up()
            while not self._stop:
                try:
                    if until is not None and until():
                        break
                    self.step()
                    for hook in every:
                        hook()
                    self._outage_over()
                except StoreUnavailableError as err:
                    self._ride_out(err)
        except BaseException:
            # Best effort: whatever stopped us (a store that went away, say) must not be hidden by the drain.
            with suppress(SchedulerError):
                self.drain()
            raise
        self.drain()
        return self.counts

    def warm_up(self, timeout_s: float = WARM_UP_TIMEOUT_S) -> None:
        """Start one empty task per slot, so the first jobs (an urgent one on the on-demand floor, say) do
        not wait for Ray to start a worker process (a cold start costs 100+ ms, seconds on a busy node)."""
        self.slots = self._read_slots()
        self._next_slots = self._clock() + self.config.capacity_refresh_s
        task = self._remote()
        if not any(self.slots.values()):
            return
        refs = [
            task.options(num_cpus=0, resources={MARKET_RESOURCE[market]: 1}, max_retries=0).remote({}, None, [])
            for market, count in self.slots.items()
            for _ in range(count)
        ]
        _, late = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        for ref in late:
            ray.cancel(ref, force=True)

    def request_stop(self) -> None:
        """Safe from a signal handler: the loop finishes its step, then drains."""
        self._stop = True

    def step(self) -> None:
        now = self._clock()
        if now >= self._next_slots:
            self.slots = self._read_slots()
            self._next_slots = now + self.config.capacity_refresh_s
            self._stop_tasks_of_vanished_markets()
        if not self._draining:
            self._start_more(now)
        self._collect(self._wait_s())
        now = self._clock()
        self._heartbeat_if_due(now)
        self._enforce_time_limits(now)
        self._give_back_unplaced(now)

    # -- leasing and starting ------------------------------------------------------------------------

    def follow(self, advice: PlacementAdvice, period_s: float) -> OnDemandPlan:
        """Take an autoscaler decision's word on where lower levels may run (`ondemand_levels` beyond
        `ondemand_reserve`), good for a few of its periods on this dispatcher's clock (ondemand_plan.py);
        a held decision leaves the plan, and its expiry, as they were. Returns the plan now followed."""
        self.ondemand_plan = next_plan(self.ondemand_plan, advice, self._clock(), period_s)
        return self.ondemand_plan

    def ondemand_below_top(self) -> int:
        """On-demand slots its tasks below the top level hold now: for the autoscaler, which must not count
        them in the reserve it keeps for the top level."""
        return self.pools().busy_ondemand_below_top

    def pools(self) -> PoolState:
        busy: Counter[Market] = Counter(task.plan.market for task in self.running.values())
        below_top = sum(1 for t in self.running.values() if t.plan.market is Market.ON_DEMAND and not t.plan.top)
        floor = self.config.ondemand_floor_slots
        return PoolState(self.slots, busy, below_top, floor, self.ondemand_plan, self._clock())

    def _start_more(self, now: float) -> None:
        pools = self.pools()
        levels = _levels_to_lease(pools, self._ondemand_types)
        wanted = self._lease_count(pools)
        if levels is not NO_LEVELS and wanted > 0:
            leases = self.scheduler.lease(wanted, self.name, levels)
            self.counts.leased += len(leases)
            self.held += [Held(lease, now) for lease in self._runnable(leases)]
        if not self.held:
            return
        since = {held.lease.job.id: held.since for held in self.held}
        running, running_spot = self._running_per_type()
        placement = place([held.lease for held in self.held], pools, self.types, self.sizer.size, running, running_spot)
        for plan in placement.tasks:
            self._start(plan, now)
        for lease in placement.deferred:
            reason = f"deferred: job type {lease.job.type!r} is at its concurrency cap"
            if self._give_back(lease, reason, self.config.defer_s):
                self.counts.deferred += 1
        self.held = [Held(lease, since[lease.job.id]) for lease in placement.waiting]

    def unplaced(self) -> Counter[tuple[int, str]]:
        """(level, type) -> leased jobs waiting for a slot in their markets: still demand for capacity."""
        return Counter((held.lease.job.level, held.lease.job.type) for held in self.held)

    def _lease_count(self, pools: PoolState) -> int:
        usable = pools.free(Market.SPOT) + pools.free(Market.ON_DEMAND)
        if usable == 0:
            return 0
        return math.ceil(usable * self._hint) + self.config.prefetch - len(self.held)

    def _runnable(self, leases: list[Lease]) -> list[Lease]:
        """Fail at once (no retry can help here) the jobs whose type this head cannot run, or whose payload no
        longer passes its type's schema."""
        runnable = []
        for lease in leases:
            problem = self.scheduler.registry.why_not_runnable(lease.job.type, lease.job.payload)
            if problem is None:
                runnable.append(lease)
            else:
                self._fail(lease, problem, retryable=False)
        return runnable

    def _running_per_type(self) -> tuple[Counter[str], Counter[str]]:
        running: Counter[str] = Counter()
        on_spot: Counter[str] = Counter()
        for task in self.running.values():
            job_type = task.plan.leases[0].job.type
            running[job_type] += len(task.plan.leases)
            if task.plan.market is Market.SPOT:
                on_spot[job_type] += len(task.plan.leases)
        return running, on_spot

    def _start(self, plan: TaskPlan, now: float) -> None:
        job_type = self.types[plan.leases[0].job.type]
        ref = (
            self._remote()
            .options(
                num_cpus=0,
                resources={MARKET_RESOURCE[plan.market]: 1},
                max_retries=0,  # a retry behind the scheduler's back would run a job twice; we release it
                name=f"ebbflow:{job_type.name}x{len(plan.leases)}",
            )
            .remote(self._runners_ref, self.source, list(plan.leases))
        )
        limit = job_type.time_limit_s
        self.running[ref] = RunningTask(ref, plan, now, now + limit * len(plan.leases) if limit else None)
        self.sizer.task_started(job_type.name)
        self._hint += HINT_SMOOTHING * (self.sizer.size(job_type) - self._hint)
        self.counts.tasks += 1
        self.counts.per_market[plan.market] += 1

    def _remote(self) -> Any:
        if self._task is None:
            self._task = ray.remote(run_jobs)
            self._runners_ref = ray.put(self._runners)
        return self._task

    def _wait_s(self) -> float:
        pools = self.pools()
        return self.config.poll_s if _levels_to_lease(pools, self._ondemand_types) is not NO_LEVELS else IDLE_WAIT_S

    # -- finished tasks ------------------------------------------------------------------------------

    def _collect(self, timeout_s: float) -> None:
        if not self.running:
            time.sleep(timeout_s)
            return
        refs = list(self.running)
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout_s)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in ready:
            task = self.running.pop(ref)
            try:
                self._finish(task)
            except StoreUnavailableError:
                self.running[ref] = task  # its result stays in Ray: reported once the store is back
                raise

    def _finish(self, task: RunningTask) -> None:
        try:
            results: list[JobResult] = ray.get(task.ref)
        except RayError as error:
            self._task_failed(task, error)
            return
        self._report(task.plan.leases, results)

    def _report(self, leases: Sequence[Lease], results: Sequence[JobResult]) -> None:
        finished = [(lease, r) for lease, r in zip(leases, results, strict=True) if r.outcome == "ok"]
        acked = self.scheduler.ack([lease for lease, _ in finished]) if finished else []
        self.counts.done += sum(acked)
        self.counts.lost += len(acked) - sum(acked)
        for (lease, result), ok in zip(finished, acked, strict=True):
            self._emit(lease, "done" if ok else "lost", result.run_s)
        for lease, result in zip(leases, results, strict=True):
            self.sizer.observe(lease.job.type, result.run_s)
            if result.outcome in ("error", "fatal"):
                self._fail(lease, result.error or "failed", result.outcome == "error", result.run_s)
            elif result.outcome == "interrupted":
                self._release(lease, "interrupted: the job stopped early for a node drain")

    def _task_failed(self, task: RunningTask, error: RayError) -> None:
        verdict = classify(error)
        leases = task.plan.leases
        if verdict == "preempted":
            for lease in leases:
                self._release(lease, f"preempted: {describe(error)}")
        elif task.stop_reason == "time limit":
            limit = self.types[leases[0].job.type].time_limit_s
            for lease in leases:
                if self._fail(lease, f"time limit exceeded: ran longer than {limit} s"):
                    self.counts.timed_out += 1
        elif task.stop_reason in ("drain", "no capacity"):
            for lease in leases:
                self._give_back(lease, f"given back: {task.stop_reason}")
        elif verdict == "crashed" and len(leases) > 1:
            # Which job killed the worker is unknown: release them all and run this type alone for a while.
            self.sizer.isolate(leases[0].job.type)
            for lease in leases:
                self._release(lease, f"worker crashed in a batch of {len(leases)}: {describe(error)}")
        else:
            message = f"worker process died: {describe(error)}" if verdict == "crashed" else str(error)
            for lease in leases:
                self._fail(lease, message[-8000:])

    # -- reporting to the scheduler ------------------------------------------------------------------

    def _fail(self, lease: Lease, error: str, retryable: bool = True, run_s: float = 0.0) -> bool:
        try:
            state = self.scheduler.fail(lease, error, retryable)
        except StaleLeaseError:
            self.counts.lost += 1
            self._emit(lease, "lost", run_s)
            return False
        if state is JobState.DEAD:
            self.counts.dead += 1
        else:
            self.counts.retried += 1
        self._emit(lease, "dead" if state is JobState.DEAD else "retry", run_s)
        return True

    def _emit(self, lease: Lease, outcome: Outcome, run_s: float) -> None:
        if self.on_outcome is not None:
            self.on_outcome(lease, outcome, run_s)

    def _release(self, lease: Lease, reason: str) -> None:
        try:
            state = self.scheduler.release(lease, reason)
        except StaleLeaseError:
            self.counts.lost += 1
            return
        self.counts.preempted += 1
        if state is JobState.DEAD:
            self.counts.dead += 1

    def _give_back(self, lease: Lease, reason: str, delay_s: float = 0.0) -> bool:
        try:
            self.scheduler.give_back(lease, reason, delay_s)
        except StaleLeaseError:
            self.counts.lost += 1
            return False
        return True

    # -- keeping leases alive, time limits, unplaced jobs --------------------------------------------

    def _heartbeat_if_due(self, now: float) -> None:
        if now < self._next_beat:
            return
        self._next_beat = now + self._beat_every
        held = [held.lease for held in self.held]
        running = [lease for task in self.running.values() for lease in task.plan.leases]
        if not held and not running:
            return
        alive = self.scheduler.heartbeat([*held, *running])
        # A held job whose lease is gone is someone else's now; a running one is reported lost when it ends.
        kept = [h for h, ok in zip(self.held, alive[: len(held)], strict=True) if ok]
        self.counts.lost += len(self.held) - len(kept)
        self.held = kept

    def _enforce_time_limits(self, now: float) -> None:
        for task in self.running.values():
            if task.deadline is not None and now > task.deadline and task.stop_reason is None:
                task.stop_reason = "time limit"
                ray.cancel(task.ref, force=True)

    def _stop_tasks_of_vanished_markets(self) -> None:
        """A market with no node left cannot run the tasks Ray still holds for it (a task on a dead node
        fails by itself, one still waiting would wait forever): cancel them and give their jobs back."""
        suspects = [t for t in self.running.values() if self.slots.get(t.plan.market, 0) == 0 and not t.stop_reason]
        if not suspects:
            return
        alive = alive_slots()  # draining nodes count here: their running jobs may still finish or checkpoint
        for task in suspects:
            if alive.get(task.plan.market, 0) == 0:
                task.stop_reason = "no capacity"
                ray.cancel(task.ref, force=True)

    def _give_back_unplaced(self, now: float) -> None:
        stale = [held for held in self.held if now - held.since > self.config.hold_s]
        if not stale:
            return
        for held in stale:
            if self._give_back(held.lease, "given back: no free slot in its markets"):
                self.counts.given_back += 1
        self.held = [held for held in self.held if now - held.since <= self.config.hold_s]

    # -- a store outage ------------------------------------------------------------------------------

    def _ride_out(self, error: StoreUnavailableError) -> None:
        """Wait for the store to come back, up to `store_outage_s`: nothing is leased or reported meanwhile,
        running tasks go on (their results wait in Ray) and time limits are still enforced. Jobs whose leases
        expired during a long outage were handed out again; their late acks are refused and counted lost,
        never overwriting the newer run. Past the limit the error is raised: the service manager restarts
        the head, as it did before this existed."""
        outage = self._outage_of(error)
        wait_s = STORE_RETRY_S
        while not self._stop:
            if self._clock() - outage.started > self.config.store_outage_s:
                raise error
            time.sleep(wait_s)
            self._enforce_time_limits(self._clock())
            try:
                # a heartbeat first: the next lease call reaps expired leases, and these may be near expiry
                self._next_beat = 0.0
                self._heartbeat_if_due(self._clock())
                self.scheduler.store.stats()  # with nothing to heartbeat, any answer will do
            except StoreUnavailableError as again:
                if again.reason != error.reason:  # e.g. a restarted Redis: unreachable, then loading its data
                    log.warning("store still unavailable, now %s: %s", again.reason, again)
                error, wait_s = again, min(wait_s * 2, STORE_RETRY_MAX_S)
                outage.last_seen = self._clock()
                continue
            outage.last_seen = self._clock()
            return

    def _outage_of(self, error: StoreUnavailableError) -> StoreOutage:
        """The outage `error` belongs to: the one being waited out if it came back within OUTAGE_GAP_S with
        the same reason (its limit counts from its start), else a new one, logged and counted by reason."""
        now = self._clock()
        outage = self._outage
        if outage is not None and outage.reason == error.reason and now - outage.last_seen <= OUTAGE_GAP_S:
            return outage
        log.warning(
            "store unavailable (%s: %s): waiting up to %.0f s, %d tasks keep running",
            error.reason,
            error,
            self.config.store_outage_s,
            len(self.running),
        )
        self.counts.outages += 1
        self.counts.outage_reasons[error.reason] += 1
        self._outage = StoreOutage(error.reason, now, now)
        return self._outage

    def _outage_over(self) -> None:
        if self._outage is not None:
            log.info("store back after %.1f s (%s)", self._clock() - self._outage.started, self._outage.reason)
            self._outage = None

    # -- stopping ------------------------------------------------------------------------------------

    def drain(self) -> None:
        """Stop leasing, give back what has not started, let running jobs finish within drain_timeout_s,
        then interrupt them (KeyboardInterrupt in the job, which may checkpoint), then kill what is left.
        Jobs stopped this way go back to the queue without counting an attempt or a preemption."""
        self._draining = True
        for held in self.held:
            if self._give_back(held.lease, "given back: the dispatcher was draining"):
                self.counts.given_back += 1
        self.held = []
        self._wait_running(self.config.drain_timeout_s)
        for force, wait_s in ((False, self.config.cancel_grace_s), (True, KILL_WAIT_S)):
            for task in self.running.values():
                task.stop_reason = task.stop_reason or "drain"
                ray.cancel(task.ref, force=force)
            self._wait_running(wait_s)
        for task in self.running.values():  # Ray never answered: hand the jobs back all the same
            for lease in task.plan.leases:
                self._give_back(lease, "given back: the dispatcher was draining")
        self.running.clear()
        log.info("dispatcher %s drained: %s", self.name, self.counts.summary())

    def _wait_running(self, seconds: float) -> None:
        deadline = self._clock() + seconds
        while self.running and self._clock() < deadline:
            self._collect(min(IDLE_WAIT_S, max(0.0, deadline - self._clock())))
            self._heartbeat_if_due(self._clock())


def _levels_to_lease(pools: PoolState, ondemand_types: bool) -> list[int] | None:
    """The levels whose jobs can start now, so that no job is leased only to wait for a slot. None: any
    level (a spot slot is free, or on-demand room beyond the reserve and `ondemand_types`: some type may use
    it at any level). With spot full: the top level, plus the levels the live plan sends to the on-demand
    room when there is some. NO_LEVELS: nothing can start."""
    if pools.free(Market.SPOT) > 0:
        return None
    if pools.ondemand_room_below_top() > 0:
        return None if ondemand_types else [TOP_LEVEL, *pools.planned_levels()]
    if pools.free(Market.ON_DEMAND) > 0:
        return [TOP_LEVEL]
    return NO_LEVELS
