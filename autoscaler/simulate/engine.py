"""The discrete-event fleet simulation: a trace's jobs arrive, wait in the MLFQ, run on the slots of
simulated nodes, and a policy (the real decide + guard, or a baseline) sizes the fleet every period from a
Snapshot built the way production builds it. Simulated clock: nothing sleeps.

Events: job arrivals (from the trace, in order), job completions, nodes coming up after their start-up
lag, spot market changes (price, capacity, reclaim waves), and the policy's decision ticks. On-demand slots
serve the top level only (its floor); spot slots serve every level. A reclaimed node's running jobs go back
to the front of their queue and their work so far is lost.
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
from autoscaler.simulate.queue import SimQueue
from autoscaler.simulate.results import JobTimes, SimResult
from autoscaler.snapshot import Action, Demand, Snapshot
from dispatcher.markets import Market

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
    ondemand_all_levels: bool = False  # False: on-demand slots serve the top level only (its floor)
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
        self.work = arrivals.work_s.tolist()
        self.level = arrivals.level.tolist()
        self.tenant = arrivals.tenant.tolist()
        self.arrived = arrivals.at_s.tolist()
        self.deadline = arrivals.deadline_s.tolist()
        n = len(self.work)
        self.times = JobTimes.empty(n)
        self.run_id = [0] * n  # bumped when a run is cut short, so its completion event is ignored
        self.run_started = [0.0] * n
        self.free_nodes: dict[Market, dict[str, SimNode]] = {market: {} for market in Market}  # with idle slots
        self.queue = SimQueue(LEVELS)
        self.deadlines: list[list[tuple[float, int]]] = [[] for _ in range(LEVELS)]  # lazy min-heaps
        self.waiting: list[list[tuple[float, int]]] = [[] for _ in range(LEVELS)]  # (arrival, job), lazy
        self.types = {t.name: t for t in trace.market.node_types}
        self.price = {t.name: t.ondemand_price for t in trace.market.node_types}
        self.available = {t.name: True for t in trace.market.node_types}
        self.nodes: dict[str, SimNode] = {}
        self.billing = Billing(hourly=self.config.billing == "hour")
        self.memory = _Memory()
        self.events: list[tuple[float, int, int, object]] = []
        self._seq = 0
        self._node_seq = 0
        self.now = 0.0
        self.result = SimResult(policy.name)
        self._wave_work = 0.0  # work of the jobs that arrived in the first minute of the current hour
        self._wave_hour = -1

    # -- the loop -------------------------------------------------------------------------------------

    def run(self, progress: Callable[[float], None] | None = None) -> SimResult:
        market = self.trace.market
        market_rows = zip(
            market.at_s.tolist(), market.node_type.tolist(), market.price.tolist(),
            market.available.tolist(), market.reclaim.tolist(), strict=True,
        )  # fmt: skip
        for row in market_rows:
            self._push(row[0], MARKET, row[1:])
        next_arrival, total = 0, len(self.work)
        next_tick = 0.0
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
                    progress(min(t, end) / end)
        return self._finish()

    def _idle(self) -> bool:
        return self.queue.total() == 0 and all(not n.jobs for n in self.nodes.values())

    def _push(self, at: float, kind: int, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self.events, (at, self._seq, kind, payload))

    # -- jobs -----------------------------------------------------------------------------------------

    def _arrive(self, job: int) -> None:
        level = self.level[job]
        self.queue.push(job, level, self.tenant[job], self.work[job])
        deadline = self.deadline[job]
        if not math.isnan(deadline):
            heapq.heappush(self.deadlines[level], (deadline, job))
        heapq.heappush(self.waiting[level], (self.arrived[job], job))
        self._note_wave(job)
        markets = (Market.ON_DEMAND, Market.SPOT) if level == 0 or self.config.ondemand_all_levels else (Market.SPOT,)
        for market in markets:
            free = self.free_nodes[market]
            if free:
                self._fill(next(iter(free.values())))
                return

    def _fill(self, node: SimNode) -> None:
        top = LEVELS - 1 if node.market is Market.SPOT or self.config.ondemand_all_levels else 0
        while node.free and node.state == "running":
            job = self.queue.pop(top, self.work)
            if job is None:
                break
            node.free -= 1
            node.jobs.add(job)
            if math.isnan(self.times.started[job]):  # its first start
                self.times.started[job] = self.now
            self.run_started[job] = self.now
            self._push(self.now + self.work[job], DONE, (job, node.node_id, self.run_id[job]))
        self._note_free(node)

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
            self.times.finished[job] = self.now
            if node.state == "draining" and not node.jobs:
                self._terminate(node)
            else:
                self._fill(node)
        elif kind == READY:
            node = self.nodes.get(str(payload))
            if node is not None and node.state == "launching":
                node.state = "running"
                node.free = node.node_type.slots
                self._fill(node)
        else:
            self._market(*cast(tuple[int, float, int, float], payload))

    def _market(self, type_index: int, price: float, available: int, reclaim: float) -> None:
        node_type = self.trace.market.node_types[type_index]
        if not math.isnan(price):
            self.price[node_type.name] = price
        if available >= 0:
            self.available[node_type.name] = bool(available)
        if reclaim > 0:
            victims = [n for n in self.nodes.values() if n.node_type.name == node_type.name and n.state != "launching"]
            for node in self.rng.sample(victims, math.ceil(reclaim * len(victims)) if victims else 0):
                self._reclaim(node)

    def _reclaim(self, node: SimNode) -> None:
        for job in node.jobs:
            self.result.work_lost_s += self.now - self.run_started[job]
            self.run_id[job] += 1
            self.queue.push(job, self.level[job], self.tenant[job], self.work[job], front=True)
            self.result.jobs_preempted += 1
        node.jobs.clear()
        self.memory.reclaimed.append((self.now, node.node_type.name))
        self.result.reclaimed += 1
        self._terminate(node)
        for market in Market:  # its jobs may start elsewhere at once
            for other in list(self.free_nodes[market].values()):
                self._fill(other)

    def _terminate(self, node: SimNode) -> None:
        self.billing.accrue(node, self.now, self.price[node.node_type.name])
        del self.nodes[node.node_id]
        self.free_nodes[node.market].pop(node.node_id, None)
        self.result.terminations += 1

    def _note_wave(self, job: int) -> None:
        hour, second = divmod(self.arrived[job] + self.trace.start_epoch_s, 3600)
        if second < 60:
            if hour != self._wave_hour:
                self._wave_hour, self._wave_work = int(hour), 0.0
            self._wave_work += self.work[job]

    # -- the policy -----------------------------------------------------------------------------------

    def _tick(self) -> None:
        self.memory.forget(self.now)
        self._account()
        decision = self.policy.decide(self._snapshot())
        self._apply(decision)

    def _account(self) -> None:
        slots = idle = 0
        for node in list(self.nodes.values()):
            self.billing.accrue(node, self.now, self.price[node.node_type.name])
            if node.state == "running":
                slots += node.node_type.slots
                idle += node.free
        self.result.slot_ticks += slots
        self.result.idle_slot_ticks += idle
        self.result.track(self.now, self.queue.count, self.nodes.values(), self.price, self.billing.total)

    def _snapshot(self) -> Snapshot:
        busy = dict.fromkeys(Market, 0)
        for node in self.nodes.values():
            busy[node.market] += len(node.jobs)
        at = self.now + self.trace.start_epoch_s
        return Snapshot(
            at_s=at,
            inputs_at_s=at,
            node_types=tuple(self.types.values()),
            nodes=tuple(node.view() for node in self.nodes.values()),
            demand=tuple(self._demand(level) for level in range(LEVELS) if self.queue.count[level]),
            busy_slots=busy,
            scheduled_work_s=self._wave_work,
            spot_prices={n: p for n, p in self.price.items() if self.types[n].market is Market.SPOT},
            errors=tuple(self.memory.errors),
            preemptions=Counter(name for _, name in self.memory.reclaimed),
            actions=tuple(self.memory.actions),
        )

    def _demand(self, level: int) -> Demand:
        heap = self.deadlines[level]
        while heap and not math.isnan(self.times.started[heap[0][1]]):
            heapq.heappop(heap)  # started: no longer waiting
        slack = heap[0][0] - self.now - self.work[heap[0][1]] if heap else None
        waiting = self.waiting[level]
        while waiting and not math.isnan(self.times.started[waiting[0][1]]):
            heapq.heappop(waiting)
        oldest = self.now - waiting[0][0] if waiting else 0.0
        count, work = self.queue.count[level], self.queue.work_s[level]
        return Demand(level, f"level-{level}", count, work, slack, oldest_wait_s=oldest)

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
        for node_id in decision.drains:
            node = self.nodes.get(node_id)
            if node is None or node.state == "draining":
                continue
            self.memory.actions.append(Action(at, "drain", node.node_type.name, 1))
            if node.state == "launching" or not node.jobs:
                self._terminate(node)
            else:
                node.state = "draining"
                node.free = 0
                self._note_free(node)

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
        self.result.summarise(self.times, self.level, self.arrived, self.deadline, self.config.target_wait_s)
        return self.result
