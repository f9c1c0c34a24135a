"""The discrete-event fleet simulation: a trace's jobs arrive, wait in the MLFQ, run on the slots of
simulated nodes, and a policy (the real decide + guard, or a baseline) sizes the fleet every period from a
Snapshot built the way production builds it. Simulated clock: nothing sleeps.

Events: job arrivals (from the trace, in order), job completions, nodes coming up after their start-up
lag, spot market changes (price, capacity, reclaim waves), and the policy's decision ticks. Spot slots serve
every level; on-demand slots serve the top level, and the levels the last decision sent there beyond the
reserve it keeps for the top (ondemand_rule.py, as the dispatcher places them). A reclaimed node's running
jobs go back to the front of their queue and lose the work since their last checkpoint (the whole run for a
type that does not checkpoint, `Trace.checkpoint_s`). A reclaim that comes with the loss of the type's
capacity (a zone going out) takes its launching nodes too: their launch fails. A job that could not run
twice before its deadline waits at the top level (the scheduler's deadline promotion). The trace's last hour
is replayed before t = 0 (warmup.py), and everything is measured from t = 0.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, cast

from autoscaler.decide import Decision
from autoscaler.fleet import FleetError, NodeType
from autoscaler.simulate.fleet_state import Billing, SimNode
from autoscaler.simulate.model import Trace
from autoscaler.simulate.ondemand_rule import OnDemandRule
from autoscaler.simulate.queue import SimQueue
from autoscaler.simulate.queue_watch import QueueWatch
from autoscaler.simulate.results import JobTimes, SimResult
from autoscaler.simulate.warmup import prelude
from autoscaler.snapshot import Action, Snapshot
from dispatcher.markets import Market
from scheduler.config import DEFAULT_PROMOTE_MAX_RUN_S

DONE, READY, MARKET = 0, 1, 2
MEMORY_S = 3600.0
LEVELS = 4


class SimPolicy(Protocol):
    name: str

    def decide(self, snapshot: Snapshot) -> Decision: ...


@dataclass(frozen=True)
class SimConfig:
    period_s: float = 60.0
    startup_lag_s: tuple[float, float] = (60.0, 240.0)  # drawn uniformly per node
    billing: Literal["second", "hour"] = "second"
    target_wait_s: tuple[float, ...] = (60.0, 900.0, 3600.0, 21600.0)
    overtime_s: float = 86400.0  # after the trace ends, at most this long to finish what is queued
    warmup_s: float = 3600.0  # replay the trace's last hour before it, so t = 0 meets a running fleet (warmup.py)
    ondemand_all_levels: bool = False  # True: on-demand slots serve every level, whatever the decision says
    promote_max_run_s: float = DEFAULT_PROMOTE_MAX_RUN_S  # the scheduler's: longer jobs are not promoted
    seed: int = 1


@dataclass
class _Memory:
    actions: deque[Action] = field(default_factory=deque)
    errors: deque[FleetError] = field(default_factory=deque)
    reclaimed: deque[tuple[float, str]] = field(default_factory=deque)

    def forget(self, now: float) -> None:
        while self.actions and now - self.actions[0].at_s > MEMORY_S:
            self.actions.popleft()
        while self.errors and now - self.errors[0].at_s > MEMORY_S:
            self.errors.popleft()
        while self.reclaimed and now - self.reclaimed[0][0] > MEMORY_S:
            self.reclaimed.popleft()


class Simulation:
    def __init__(self, trace: Trace, policy: SimPolicy, config: SimConfig | None = None) -> None:
        self.trace = trace
        self.policy = policy
        self.config = config or SimConfig()
        self.rng = random.Random(self.config.seed)
        arrivals = trace.arrivals
        self.prelude = prelude(trace, self.config.warmup_s)  # jobs 0 .. prelude.jobs - 1, before t = 0
        self.work: list[float] = self.prelude.work_s + arrivals.work_s.tolist()
        self.level: list[int] = self.prelude.level + arrivals.level.tolist()
        self.tenant = self.prelude.tenant + arrivals.tenant.tolist()
        self.arrived = self.prelude.at_s + arrivals.at_s.tolist()
        self.deadline: list[float] = self.prelude.deadline_s + arrivals.deadline_s.tolist()
        self.left: list[float] = list(self.work)  # work still to do: less than `work` after a checkpoint
        every = [trace.checkpoint_s.get(name, math.inf) for name in arrivals.types]
        self.checkpoint = [every[k] for k in self.prelude.job_type + arrivals.job_type.tolist()]
        n = len(self.work)
        self.times = JobTimes.empty(n)
        self.run_id = [0] * n  # bumped when a run is cut short, so its completion event is ignored
        self.run_started = [0.0] * n
        self.preempted = [False] * n  # lost a run to a reclaim at least once
        self.free_nodes: dict[Market, dict[str, SimNode]] = {market: {} for market in Market}  # with idle slots
        self.ondemand = OnDemandRule(all_levels=self.config.ondemand_all_levels)
        self.below_top_on_od: set[int] = set()  # jobs below the top running on on-demand slots
        self.queue = SimQueue(LEVELS)
        epoch, period = trace.start_epoch_s, self.config.period_s
        waits = self.config.target_wait_s
        self.watch = QueueWatch(LEVELS, self.work, self.level, self.checkpoint, epoch, period, waits)  # its view
        self.types = {t.name: t for t in trace.market.node_types}
        self.price = {t.name: t.ondemand_price for t in trace.market.node_types}
        self.available = {t.name: True for t in trace.market.node_types}
        self.lost_capacity_at: dict[str, float] = {}  # per type: when it last went from capacity to none
        self.full_reclaim_at: dict[str, float] = {}  # per type: when a reclaim last took all its nodes
        self.nodes: dict[str, SimNode] = {}
        self.billing = Billing(hourly=self.config.billing == "hour")
        self.memory = _Memory()
        self.events: list[tuple[float, int, int, object]] = []
        self._seq = 0
        self._node_seq = 0
        self.now = 0.0
        self.result = SimResult(policy.name)
        self._measuring = False  # from t = 0 on; the prelude only warms the fleet up

    # -- the loop -------------------------------------------------------------------------------------

    def run(self, progress: Callable[[float], None] | None = None) -> SimResult:
        market = self.trace.market
        market_rows = zip(
            market.at_s.tolist(), market.node_type.tolist(), market.price.tolist(),
            market.available.tolist(), market.reclaim.tolist(), strict=True,
        )  # fmt: skip
        for row in [*self.prelude.market_rows, *market_rows]:
            self._push(row[0], MARKET, row[1:])
        next_arrival, total = 0, len(self.work)
        period = self.config.period_s
        next_tick = -math.floor(min(self.config.warmup_s, self.trace.duration_s) / period) * period  # one falls on 0
        end = self.trace.duration_s
        while True:
            head = self.events[0][0] if self.events else math.inf
            arrival = self.arrived[next_arrival] if next_arrival < total else math.inf
            t = min(head, arrival, next_tick)
            if t > end and (self._idle() or t > end + self.config.overtime_s):
                break
            self.now = t
            # at one instant: what happened (market, nodes, jobs ending), then arrivals, then the decision
            if head == t:
                _, _, kind, payload = heapq.heappop(self.events)
                self._event(kind, payload)
            elif arrival == t:
                self._arrive(next_arrival)
                next_arrival += 1
            else:
                self._tick()
                next_tick += self.config.period_s
                if progress is not None:
                    progress(min(max(t, 0.0), end) / end if end > 0 else 1.0)
        return self._finish()

    def _idle(self) -> bool:
        return self.queue.total() == 0 and all(not n.jobs for n in self.nodes.values())

    def _push(self, at: float, kind: int, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self.events, (at, self._seq, kind, payload))

    # -- jobs -----------------------------------------------------------------------------------------

    def _serve_level(self, job: int) -> int:
        """The level the job waits at: its own, or the top when its deadline slack (time left once it has
        run) is below its run time, as the scheduler's deadline promotion (policy rule 5) moves it (at
        once here; production's maintain() does it within a round)."""
        deadline, work = self.deadline[job], self.left[job]
        if not math.isnan(deadline) and deadline - self.now - work < work <= self.config.promote_max_run_s:
            return 0
        return self.level[job]

    def _arrive(self, job: int) -> None:
        level = self._serve_level(job)
        self._queue(job, level)
        self.watch.arrived(job, level, self.arrived[job], self.work[job], self.deadline[job])
        # as the dispatcher tries them: the top level on-demand first (its reserve), a level the decision
        # sends to on-demand spot first, then the on-demand slots bought for it
        if level == 0:
            markets: tuple[Market, ...] = (Market.ON_DEMAND, Market.SPOT)
        else:
            markets = (Market.SPOT, Market.ON_DEMAND) if self.ondemand.allows(level) else (Market.SPOT,)
        for market in markets:
            for node in list(self.free_nodes[market].values()):
                self._fill(node)
                if job in node.jobs:
                    return
                if self.queue.count[level] == 0:
                    return  # taken by an earlier node

    def _queue(self, job: int, level: int, front: bool = False) -> None:
        self.queue.push(job, level, self.tenant[job], self.left[job], front=front)
        deadline = self.deadline[job]
        wait = self.config.target_wait_s[min(self.level[job], len(self.config.target_wait_s) - 1)]
        start_by = deadline - self.left[job] if not math.isnan(deadline) else self.arrived[job] + wait
        self.watch.queued(job, level, start_by, self.left[job])

    def _fill(self, node: SimNode) -> None:
        while node.free and node.state == "running":
            popped = self._next_job(node)
            if popped is None:
                break
            job, level = popped
            self.watch.started(job)
            node.free -= 1
            node.jobs.add(job)
            if node.market is Market.ON_DEMAND and level > 0:
                self.below_top_on_od.add(job)
                self.ondemand.below_top += 1
            if math.isnan(self.times.started[job]):  # its first start
                self.times.started[job] = self.now
            self.run_started[job] = self.now
            end = self.now + self.left[job]
            node.busy_until = max(node.busy_until, end)
            self._push(end, DONE, (job, node.node_id, self.run_id[job]))
        self._note_free(node)

    def _next_job(self, node: SimNode) -> tuple[int, int] | None:
        """The next job this node's slot serves: any level on spot; on on-demand, the top level first, then
        the levels the placement rule allows, beyond the top level's reserve."""
        if node.market is Market.SPOT:
            return self.queue.pop(LEVELS - 1, self.left)
        popped = self.queue.pop(0, self.left)
        if popped is None and self.ondemand.room_below_top() > 0:
            popped = self.queue.pop_from(self.ondemand.below_top_order(LEVELS), self.left)
        return popped

    def _note_free(self, node: SimNode) -> None:
        if node.free > 0 and node.state == "running":
            self.free_nodes[node.market][node.node_id] = node
        else:
            self.free_nodes[node.market].pop(node.node_id, None)

    def _event(self, kind: int, payload: object) -> None:
        if kind == DONE:
            job, node_id, run = cast(tuple[int, str, int], payload)
            node = self.nodes.get(node_id)
            if node is None or run != self.run_id[job] or job not in node.jobs:
                return  # its node was reclaimed: the job went back to the queue
            node.jobs.discard(job)
            node.free += 1
            if job in self.below_top_on_od:
                self.below_top_on_od.discard(job)
                self.ondemand.below_top -= 1
            self.times.finished[job] = self.now
            if node.busy_until <= self.now:  # it was the last to end: the next last is another's
                node.busy_until = max((self.run_started[j] + self.left[j] for j in node.jobs), default=self.now)
            if node.state == "draining" and not node.jobs:
                self._terminate(node)
            else:
                self._fill(node)
        elif kind == READY:
            node = self.nodes.get(str(payload))
            if node is not None and node.state == "launching":
                node.state = "running"
                node.free = node.node_type.slots
                if node.market is Market.ON_DEMAND:
                    self.ondemand.capacity += node.free
                self._fill(node)
        else:
            self._market(*cast(tuple[int, float, int, float], payload))

    def _market(self, type_index: int, price: float, available: int, reclaim: float) -> None:
        node_type = self.trace.market.node_types[type_index]
        if not math.isnan(price):
            self.price[node_type.name] = price
        name = node_type.name
        if available == 0 and self.available[name]:
            self.lost_capacity_at[name] = self.now
        if available >= 0:
            self.available[name] = bool(available)
        if reclaim >= 1:
            self.full_reclaim_at[name] = self.now
        if self.lost_capacity_at.get(name) == self.full_reclaim_at.get(name) == self.now:
            # the zone went out and took every node: launches in flight fail with it (in whichever order
            # the rows of that moment came)
            for node in [n for n in self.nodes.values() if n.node_type.name == name and n.state == "launching"]:
                self._terminate(node)
        if reclaim > 0:
            mine = [n for n in self.nodes.values() if n.node_type.name == name]
            victims = [n for n in mine if n.state != "launching"]
            for node in self.rng.sample(victims, math.ceil(reclaim * len(victims)) if victims else 0):
                self._reclaim(node)

    def _reclaim(self, node: SimNode) -> None:
        for job in node.jobs:
            done = self.now - self.run_started[job]
            every = self.checkpoint[job]
            saved = min(self.left[job], math.floor(done / every) * every) if math.isfinite(every) else 0.0
            self.result.work_lost_s += done - saved
            self.left[job] -= saved
            self.run_id[job] += 1
            self._queue(job, self._serve_level(job), front=True)
            self.result.jobs_preempted += 1
            self.preempted[job] = True
        node.jobs.clear()
        self.memory.reclaimed.append((self.now, node.node_type.name))
        self.result.reclaimed += 1
        self._terminate(node)
        for market in Market:  # its jobs may start elsewhere at once
            for other in list(self.free_nodes[market].values()):
                self._fill(other)

    def _terminate(self, node: SimNode) -> None:
        if node.market is Market.ON_DEMAND and node.state == "running":
            self.ondemand.capacity -= node.node_type.slots
        self.billing.accrue(node, self.now, self.price[node.node_type.name])
        del self.nodes[node.node_id]
        self.free_nodes[node.market].pop(node.node_id, None)
        self.result.terminations += 1

    # -- the policy -----------------------------------------------------------------------------------

    def _tick(self) -> None:
        self.memory.forget(self.now)
        self._account()
        self.watch.round_over()
        decision = self.policy.decide(self._snapshot())
        self._apply(decision)

    def _account(self) -> None:
        for node in self.nodes.values():
            self.billing.accrue(node, self.now, self.price[node.node_type.name])
        if not self._measuring:
            if self.now < 0:
                return
            self._measuring = True  # what the prelude cost and did is not the trace's
            self.billing.restart(self.nodes.values(), self.now, self.price)
            self.result = SimResult(self.policy.name)
        self.result.sample(self.nodes.values(), self.price, self._cheapest_spot_slot(), self.config.period_s)
        self.result.track(self.now, self.queue.count, self.nodes.values(), self.price, self.billing.total)

    def _cheapest_spot_slot(self) -> float | None:
        """$/slot-hour of the cheapest spot type that could be launched now (None: none could)."""
        prices = [
            self.price[name] / node_type.slots
            for name, node_type in self.types.items()
            if node_type.market is Market.SPOT and self.available[name]
        ]
        return min(prices, default=None)

    def _snapshot(self) -> Snapshot:
        lookahead = max(self.config.startup_lag_s) + self.config.period_s
        busy = dict.fromkeys(Market, 0)
        for node in self.nodes.values():
            busy[node.market] += len(node.jobs)
        at = self.now + self.trace.start_epoch_s
        return Snapshot(
            at_s=at,
            inputs_at_s=at,
            node_types=tuple(self.types.values()),
            nodes=tuple(node.view(self._work_left(node)) for node in self.nodes.values()),
            demand=self.watch.demands(self.now, self.queue, self.times.started, lookahead),
            busy_slots=busy,
            ondemand_busy_below_top=self.ondemand.below_top,
            scheduled_work_s=self.watch.wave_work,
            scheduled_level=self.watch.wave_level,
            spot_prices={n: p for n, p in self.price.items() if self.types[n].market is Market.SPOT},
            errors=tuple(self.memory.errors),
            preemptions=Counter(name for _, name in self.memory.reclaimed),
            actions=tuple(self.memory.actions),
        )

    def _work_left(self, node: SimNode) -> float:
        """Seconds until the node's last running job ends. The simulator knows it exactly; production's
        fleets do not report it yet, and there decide drains the nodes with the fewest running jobs."""
        return max(0.0, node.busy_until - self.now) if node.jobs else 0.0

    def _apply(self, decision: Decision) -> None:
        at = self.now + self.trace.start_epoch_s
        for name, count in decision.launches.items():
            node_type = self.types.get(name)
            if node_type is None or count <= 0:
                continue
            if not self.available[name]:
                self.memory.errors.append(FleetError(name, "capacity", at, "no spot capacity"))
                continue
            for _ in range(count):
                self._launch(node_type)
            self.memory.actions.append(Action(at, "launch", name, count))
            self.result.launches += count
        drained: Counter[str] = Counter()
        for node_id in decision.drains:
            node = self.nodes.get(node_id)
            if node is None or node.state == "draining":
                continue
            drained[node.node_type.name] += 1
            if node.state == "launching" or not node.jobs:
                self._terminate(node)
            else:
                if node.market is Market.ON_DEMAND:
                    self.ondemand.capacity -= node.node_type.slots
                node.state = "draining"
                node.free = 0
                self._note_free(node)
        self.memory.actions.extend(Action(at, "drain", name, count) for name, count in drained.items())
        if self.ondemand.follow(decision):
            for node in list(self.free_nodes[Market.ON_DEMAND].values()):
                self._fill(node)

    def _launch(self, node_type: NodeType) -> None:
        self._node_seq += 1
        node_id = f"n{self._node_seq}"
        lag = self.rng.uniform(*self.config.startup_lag_s)
        node = SimNode(node_id, node_type, self.now, self.now + lag, billed_to=self.now, paid_until=self.now)
        self.nodes[node_id] = node
        self._push(self.now + lag, READY, node_id)

    def _finish(self) -> SimResult:
        for node in list(self.nodes.values()):
            self._terminate(node)
        self.result.cost = dict(self.billing.cost)
        first = self.prelude.jobs  # the prelude's jobs are not the trace's
        times = JobTimes(self.times.started[first:], self.times.finished[first:], self.preempted[first:])
        self.result.summarise(
            times,
            self.level[first:],
            self.arrived[first:],
            self.deadline[first:],
            self.config.target_wait_s,
            work=self.work[first:],
            shortest_start_s=min(self.config.startup_lag_s),
        )
        return self.result
