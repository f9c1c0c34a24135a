"""The head service: the dispatcher onto Ray, plus the scheduler's maintenance, cron and (when
`autoscaler.enabled`) the autoscaler, in one process; each autoscaler decision is handed to the dispatcher,
which places lower levels on the on-demand slots bought for them (`Dispatcher.follow`).

Any number of heads may run on one store. Every head dispatches (leases are fenced, so that is safe); only
the head holding the leader lease runs the singletons: maintenance, cron, the autoscaler and the fleet part
of its metrics (ebbflow.leadership, docs/heads.md). A clean stop gives the lease up at once.

Everything runs on one thread between dispatcher steps (a store connection is not shared across threads),
each on its own period. SIGTERM or Ctrl-C drains the dispatcher: no new leases, running jobs get
`dispatcher.drain_timeout_s` to finish, the rest go back to the queue without counting against them.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autoscaler.loop import Autoscaler
from autoscaler.memory import GuardMemory
from dispatcher.capacity import busy_slots
from dispatcher.dispatcher import Dispatcher, Outcome
from dispatcher.inflight import DispatchCounts
from dispatcher.markets import Market
from dispatcher.runtime import connect, disconnect
from ebbflow.autoscaling import make_autoscaler, open_fleet
from ebbflow.config import Settings
from ebbflow.leadership import Leadership
from ebbflow.metrics import HeadMetrics, serve_metrics
from ebbflow.stores import StoreSource, open_leader_lease, open_scheduler, open_store
from scheduler.cron import CronRunner
from scheduler.errors import SchedulerError
from scheduler.job import Lease
from scheduler.leader import LeaderLease
from scheduler.queue import Scheduler

log = logging.getLogger(__name__)


@dataclass
class Every:
    """Runs `action` at most once per `period_s`; a failure is logged and tried again next period, so a
    store hiccup in maintenance never stops the dispatcher."""

    period_s: float
    action: Callable[[], Any]
    clock: Callable[[], float] = time.monotonic
    _next: float = field(default=0.0, init=False)

    def __call__(self) -> None:
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.period_s
        try:
            self.action()
        except SchedulerError as err:
            log.warning("%s failed: %s", getattr(self.action, "__name__", "periodic task"), err)


def head_name() -> str:
    return f"head-{socket.gethostname()}-{os.getpid()}"


def connect_ray(settings: Settings) -> bool:
    """Connect to settings.ray.address, or start the local Ray; True if this call made the connection."""
    local_slots = {Market.SPOT: settings.ray.local_spot_slots, Market.ON_DEMAND: settings.ray.local_ondemand_slots}
    return connect(settings.ray.address, local_slots)


def run_until_empty(
    settings: Settings, scheduler: Scheduler, on_outcome: Callable[[Lease, Outcome, float], None]
) -> DispatchCounts:
    """Dispatch on Ray until nothing is pending, running or delayed (the demo's run)."""
    connected = connect_ray(settings)
    source = StoreSource.from_settings(settings)
    dispatcher = Dispatcher(scheduler, settings.dispatcher, source, head_name(), on_outcome=on_outcome)

    try:
        return dispatcher.run(until=lambda: scheduler.store.stats().settled)
    finally:
        if connected:
            disconnect()


def run_head(
    settings: Settings, scheduler: Scheduler | None = None, until: Callable[[], bool] | None = None
) -> DispatchCounts:
    """Connect to Ray (settings.ray), dispatch until SIGTERM/SIGINT or `until()`, drain, disconnect; lead
    (run the singletons) whenever this head holds the leader lease."""
    scheduler = scheduler or open_scheduler(settings)
    connected = connect_ray(settings)
    name = head_name()
    dispatcher = Dispatcher(scheduler, settings.dispatcher, StoreSource.from_settings(settings), name)
    lease = open_leader_lease(settings, scheduler.store)
    autoscaler = None
    if settings.autoscaler.enabled:
        fleet = open_fleet(settings)
        below_top = dispatcher.ondemand_below_top
        autoscaler = make_autoscaler(settings, scheduler, fleet, busy_slots, dispatcher.unplaced, below_top)
    leadership = _leadership(settings, lease, name, autoscaler)
    stopping: list[bool] = []  # set by SIGTERM/SIGINT; the lease is given up between steps, not in the handler
    hooks: list[Callable[[], None]] = [
        leadership.step,
        *_singletons(settings, scheduler, dispatcher, leadership, autoscaler),
        Every(settings.head.report_every_s, lambda: log.info("%s", dispatcher.counts.summary())),
        lambda: leadership.release() if stopping else None,  # the last hook: the loop ends after it
    ]
    metrics = None
    if settings.head.metrics:
        decision_log = settings.autoscaler.log_path if settings.autoscaler.enabled else None
        collector = HeadMetrics(
            lambda: open_store(settings),
            settings.scheduler,
            lambda: dispatcher.counts,
            decision_log_path=decision_log,
            leader=leadership,
        )
        metrics = serve_metrics(collector, settings.head.metrics_host, settings.head.metrics_port)

    def stop(*_: object) -> None:
        stopping.append(True)
        dispatcher.request_stop()

    def done() -> bool:
        finished = until is not None and until()
        if finished:  # before the drain, which may take dispatcher.drain_timeout_s
            leadership.release()
        return finished

    stop_signals = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, stop) for sig in stop_signals}
    try:
        return dispatcher.run(done, hooks)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        leadership.release()
        lease.close()
        if metrics is not None:
            metrics.close()
        if connected:
            disconnect()


def _leadership(settings: Settings, lease: LeaderLease, name: str, autoscaler: Autoscaler | None) -> Leadership:
    """This head's side of the leader lease; on taking it, the autoscaler reads its memory from the store."""

    def take_over(token: int) -> None:
        if autoscaler is not None:
            autoscaler.take_over(GuardMemory(lease, token))

    def step_down() -> None:
        if autoscaler is not None:
            autoscaler.step_down()

    head = settings.head
    return Leadership(lease, name, head.leader_ttl_s, head.leader_renew_every_s, on_gain=take_over, on_loss=step_down)


def _singletons(
    settings: Settings,
    scheduler: Scheduler,
    dispatcher: Dispatcher,
    leadership: Leadership,
    autoscaler: Autoscaler | None,
) -> list[Callable[[], None]]:
    """The hooks only the leader runs, each on its own period."""
    cron = CronRunner(scheduler, settings.cron)
    periodic = [
        Every(settings.head.maintain_every_s, scheduler.maintain),
        Every(settings.head.cron_every_s, cron.tick),
    ]
    if autoscaler is not None:
        period_s = settings.autoscaler.period_s
        # each decision says which lower levels may use the on-demand slots it bought (dispatcher/ondemand_plan.py)
        tick = leadership.fenced(lambda: dispatcher.follow(autoscaler.tick(), period_s))
        periodic.append(Every(period_s, tick))
    return [leadership.while_leader(hook) for hook in periodic]
