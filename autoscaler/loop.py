"""The autoscaler's loop: observe -> decide -> guard -> act, every `period_s`, surviving any error.

An input that cannot be read (the queue, the fleet, prices) makes the round a hold; an actuator that fails
is logged and its failure kept as a FleetError for the next round. Request ids and times are stamped here,
never inside decide. It remembers its own recent actions (cooldowns, hourly limits), recent launch
failures, and nodes that vanished without being drained (preemptions per node type). It keeps the arrival
stream and the season's forecast (with `config.forecast`), both read from the scheduler.

Under a leader lease (the head's), that memory lives in the store (autoscaler.memory): `take_over` loads it,
and each round writes what it added with the leader's fencing token, once before it acts (so a deposed
leader learns it, as NotLeaderError, before it launches anything) and once after.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence

from autoscaler.arrivals import QueueArrivals
from autoscaler.config import AutoscalerConfig
from autoscaler.decide import Decision, decide
from autoscaler.decision_log import DecisionLog, entry
from autoscaler.fleet import Fleet, FleetError
from autoscaler.forecast import ArrivalForecast
from autoscaler.guard import guard
from autoscaler.memory import MEMORY_S, GuardMemory, Remembered, RequestingFleet
from autoscaler.observe import build_snapshot
from autoscaler.snapshot import Action, Snapshot
from dispatcher.markets import Market
from scheduler.cron import CronSchedule
from scheduler.errors import StoreUnavailableError
from scheduler.queue import Scheduler

log = logging.getLogger(__name__)


class Autoscaler:
    def __init__(
        self,
        scheduler: Scheduler,
        fleet: Fleet,
        config: AutoscalerConfig,
        decisions: DecisionLog,
        busy_slots: Callable[[], Mapping[Market, int]],
        schedules: Sequence[CronSchedule] = (),
        clock: Callable[[], float] = time.time,
        unplaced: Callable[[], Mapping[tuple[int, str], int]] | None = None,
        ondemand_below_top: Callable[[], int] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.fleet = fleet
        self.config = config
        self.decisions = decisions
        self.busy_slots = busy_slots
        self.schedules = schedules
        self.clock = clock
        # (level, type) -> jobs the dispatcher in this process holds without a slot (see observe.queued_demand)
        self.unplaced = unplaced
        # on-demand slots that dispatcher's jobs below the top level hold (the levels its decisions sent there):
        # without it, need.py takes every busy on-demand slot for the top level's, and the reserve it keeps for
        # the top level grows with the very jobs the on-demand slots were bought for
        self.ondemand_below_top = ondemand_below_top
        self.actions: deque[Action] = deque()
        self.errors: deque[FleetError] = deque()
        self.vanished: deque[tuple[float, str]] = deque()  # (when, node type) of nodes gone undrained
        self._known: dict[str, str] = {}  # node id -> node type, as of the last round
        self._drained: set[str] = set()
        self.arrivals = QueueArrivals()  # the work arriving per second, from leases and pending counts
        # the season's: over the start-up lag and the round after it (what a launch now can serve), scaled by
        # the stream over its window of rounds
        self.forecast = ArrivalForecast(
            scheduler.arrivals_by_hour,
            lookahead_s=config.startup_lag_s + config.period_s,
            present_s=self.arrivals.stream.window * config.period_s,
        )
        self.memory: GuardMemory | None = None  # in the store, while this process leads (take_over)
        self._unsaved = Remembered()  # added since the last write to `memory`

    def take_over(self, memory: GuardMemory) -> None:
        """Become the leader's autoscaler: the memory in the store replaces this process's own (a failover, or
        a restart, carries the cooldowns and the hourly cap on), and each round writes to it from now on."""
        remembered = memory.load()
        self.actions = deque(sorted(remembered.actions, key=lambda action: action.at_s))
        self.errors = deque(sorted(remembered.errors, key=lambda error: error.at_s))
        self.vanished = deque(sorted(remembered.vanished))
        if remembered.floors is not None and isinstance(self.fleet, RequestingFleet):
            self.fleet.adopt_floors(remembered.floors)
        self._known, self._drained = {}, set()  # the fleet changed while another head led: learn it anew
        self._unsaved = Remembered()
        self.memory = memory

    def step_down(self) -> None:
        """No longer the leader: stop writing to the store (the next take_over reads it again)."""
        self.memory, self._unsaved = None, Remembered()

    def tick(self, dry_run: bool = False) -> Decision:
        """One round; with dry_run nothing is done, but the decision is still returned (and not logged)."""
        now = self.clock()
        try:
            snapshot = self.observe(now)
        except Exception as err:  # any input: a hold, never a crash of the loop
            log.warning("autoscaler: inputs unavailable: %s", err)
            decision = Decision(hold=f"hold: inputs unavailable ({type(err).__name__}: {err})")
            if not dry_run:
                self._save_or_keep()
                self.decisions.append({"at": now, "acted": False, "hold": decision.hold})
            return decision
        decision = guard(decide(snapshot, self.config), snapshot, self.config)
        if not dry_run:
            self._save(check=decision.acts)  # NotLeaderError here: deposed, and nothing was done
            self.act(decision, now)
            self.decisions.append(entry(snapshot, decision, acted=decision.acts))
            self._save_or_keep()
        return decision

    def observe(self, now: float) -> Snapshot:
        self._forget(now)
        polled = self.fleet.poll_errors()
        self.errors.extend(polled)
        self._unsaved.errors += polled
        snapshot = build_snapshot(
            self.scheduler,
            self.fleet,
            now,
            self.busy_slots,
            self.schedules,
            tuple(self.errors),
            None,
            tuple(self.actions),
            self.arrivals,
            None if self.unplaced is None else self.unplaced(),
            self.forecast if self.config.forecast else None,
        )
        self._note_vanished(snapshot, now)
        # counted after the fleet was read, so a node gone since the last round counts in this one
        preemptions = Counter(node_type for _, node_type in self.vanished)
        below_top = 0 if self.ondemand_below_top is None else self.ondemand_below_top()
        return dataclasses.replace(snapshot, preemptions=preemptions, ondemand_busy_below_top=below_top)

    def act(self, decision: Decision, now: float) -> None:
        for name, count in decision.launches.items():
            request_id = f"ebbflow-{int(now)}-{name}"
            try:
                self.fleet.launch(name, count, request_id)
            except Exception as err:
                extra = {"node_type": name, "count": count, "request_id": request_id}
                log.warning("autoscaler: launch of %d x %s failed: %s", count, name, err, extra=extra)
                self._note_error(FleetError(name, "launch", now, str(err), request_id))
                continue
            self._note_action(Action(now, "launch", name, count))
        if decision.drains:
            try:
                self.fleet.drain(decision.drains, f"ebbflow-{int(now)}-drain")
            except Exception as err:
                nodes = ", ".join(decision.drains)
                log.warning("autoscaler: drain of %s failed: %s", nodes, err, extra={"node_ids": list(decision.drains)})
                return
            self._drained.update(decision.drains)
            drained = Counter(self._known.get(node_id, "?") for node_id in decision.drains)
            for node_type, count in drained.items():
                self._note_action(Action(now, "drain", node_type, count))

    def run(self, should_stop: Callable[[], bool], sleep: Callable[[float], None] = time.sleep) -> None:
        while not should_stop():
            started = self.clock()
            self.tick()
            sleep(max(0.0, self.config.period_s - (self.clock() - started)))

    def _note_vanished(self, snapshot: Snapshot, now: float) -> None:
        present = {node.node_id: node.node_type for node in snapshot.nodes}
        for node_id, node_type in self._known.items():
            if node_id not in present and node_id not in self._drained:
                self.vanished.append((now, node_type))
                self._unsaved.vanished.append((now, node_type))
        self._drained &= set(present)
        self._known = present

    def _note_action(self, action: Action) -> None:
        self.actions.append(action)
        self._unsaved.actions.append(action)
        if isinstance(self.fleet, RequestingFleet):  # the request it stands on now, for the next leader
            self._unsaved.floors = self.fleet.floors()

    def _note_error(self, error: FleetError) -> None:
        self.errors.append(error)
        self._unsaved.errors.append(error)

    def _save(self, check: bool = False) -> None:
        """Write what this round added to the store (with `check`, even nothing: the fence alone)."""
        if self.memory is None or not (self._unsaved or check):
            return
        self.memory.save(self._unsaved)
        self._unsaved = Remembered()

    def _save_or_keep(self) -> None:
        """What it did is kept for the next round's write if the store is away now (the next round then acts
        only once the store is back, as its check before acting fails until then)."""
        try:
            self._save()
        except StoreUnavailableError as err:
            log.warning("autoscaler: its memory could not be written, kept for the next round: %s", err)

    def _forget(self, now: float) -> None:
        for memory in (self.actions, self.errors):
            while memory and now - memory[0].at_s > MEMORY_S:
                memory.popleft()
        while self.vanished and now - self.vanished[0][0] > MEMORY_S:
            self.vanished.popleft()
