"""The autoscaler's loop: observe -> decide -> guard -> act, every `period_s`, surviving any error.

An input that cannot be read (the queue, the fleet, prices) makes the round a hold; an actuator that fails
is logged and its failure kept as a FleetError for the next round. Request ids and times are stamped here,
never inside decide. It remembers its own recent actions (cooldowns, hourly limits), recent launch
failures, and nodes that vanished without being drained (preemptions per node type). It keeps the arrival
stream and the season's forecast (with `config.forecast`), both read from the scheduler.
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
from autoscaler.observe import build_snapshot
from autoscaler.snapshot import Action, Snapshot
from dispatcher.markets import Market
from scheduler.cron import CronSchedule
from scheduler.queue import Scheduler

log = logging.getLogger(__name__)
MEMORY_S = 3600.0  # how long actions, errors and preemptions are remembered


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

    def tick(self, dry_run: bool = False) -> Decision:
        """One round; with dry_run nothing is done, but the decision is still returned (and not logged)."""
        now = self.clock()
        try:
            snapshot = self.observe(now)
        except Exception as err:  # any input: a hold, never a crash of the loop
            log.warning("autoscaler: inputs unavailable: %s", err)
            decision = Decision(hold=f"hold: inputs unavailable ({type(err).__name__}: {err})")
            if not dry_run:
                self.decisions.append({"at": now, "acted": False, "hold": decision.hold})
            return decision
        decision = guard(decide(snapshot, self.config), snapshot, self.config)
        if not dry_run:
            self.act(decision, now)
            self.decisions.append(entry(snapshot, decision, acted=decision.acts))
        return decision

    def observe(self, now: float) -> Snapshot:
        self._forget(now)
        self.errors.extend(self.fleet.poll_errors())
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
                self.errors.append(FleetError(name, "launch", now, str(err), request_id))
                continue
            self.actions.append(Action(now, "launch", name, count))
        if decision.drains:
            try:
                self.fleet.drain(decision.drains, f"ebbflow-{int(now)}-drain")
            except Exception as err:
                nodes = ", ".join(decision.drains)
                log.warning("autoscaler: drain of %s failed: %s", nodes, err, extra={"node_ids": list(decision.drains)})
                return
            self._drained.update(decision.drains)
            drained = Counter(self._known.get(node_id, "?") for node_id in decision.drains)
            self.actions.extend(Action(now, "drain", node_type, count) for node_type, count in drained.items())

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
        self._drained &= set(present)
        self._known = present

    def _forget(self, now: float) -> None:
        for memory in (self.actions, self.errors):
            while memory and now - memory[0].at_s > MEMORY_S:
                memory.popleft()
        while self.vanished and now - self.vanished[0][0] > MEMORY_S:
            self.vanished.popleft()
