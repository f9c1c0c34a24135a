"""The demo's run: set everything up, drive the head's loops with the mix, tear everything down.

The head's pieces are the production ones (Dispatcher, CronRunner, Autoscaler over RayFleet, maintenance),
run on one thread as `ebbflow head` runs them; the demo adds the arrivals, the spot reclaims, the live view
and a cost meter as further hooks of the same loop.
"""

from __future__ import annotations

import logging
import random
import signal
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ray
from rich.console import Console
from rich.live import Live

from autoscaler.decide import Decision
from autoscaler.fake_cluster import FakeAutoscalingCluster
from autoscaler.loop import Autoscaler
from autoscaler.ray_fleet import RayFleet
from dispatcher.capacity import busy_slots
from dispatcher.dispatcher import Dispatcher
from dispatcher.markets import Market
from ebbflow.autoscaling import make_autoscaler
from ebbflow.config import Settings
from ebbflow.demo.fleet import DEMO_NODE_TYPES, SpotPrices, reclaim_spot_node
from ebbflow.demo.mix import DEFAULT_MINUTES, Arrival, MixSize, Submitter, timeline
from ebbflow.demo.report import CostMeter, DemoReport, finished_per_type, level_figures
from ebbflow.demo.setup import Emulator, demo_settings, prepare_workdir, seed_catalogue
from ebbflow.demo.view import LiveState, describe_actions, live_view, summary_view
from ebbflow.head import Every, head_name
from ebbflow.stores import StoreSource, open_scheduler
from scheduler.cron import CronRunner
from scheduler.errors import SchedulerError
from scheduler.queue import Scheduler
from workloads.resources import Resources
from workloads.world import World

log = logging.getLogger(__name__)
EVENTS_SHOWN = 6
FLOOR_TIMEOUT_S = 120.0
CATALOGUE_FIRST_VIDEO = 500_000  # the catalogue is a slice of the world's videos away from the crawl's seeds


@dataclass(frozen=True, slots=True)
class DemoOptions:
    minutes: float = DEFAULT_MINUTES
    seed: int = 7
    live: bool = True
    workdir: Path = Path(".ebbflow/demo")
    size: MixSize = field(default_factory=MixSize)
    grace_s: float = 120.0  # after the planned time, wait at most this long for the queue to drain


class _Run:
    """The state one demo run's hooks share."""

    def __init__(self, options: DemoOptions, scheduler: Scheduler, submitter: Submitter, console: Console) -> None:
        self.options = options
        self.scheduler = scheduler
        self.submitter = submitter
        self.console = console
        self.rng = random.Random(options.seed)
        self.duration_s = options.minutes * 60
        self.arrivals: deque[Arrival] = deque()
        self.events: deque[str] = deque(maxlen=EVENTS_SHOWN)
        self.submitted: Counter[str] = Counter()
        self.reclaimed: list[str] = []
        self.decision: Decision | None = None
        self.decided_at: float | None = None
        self.launches = self.drains = 0
        self.started = time.monotonic()
        self.settled = False

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def event(self, text: str) -> None:
        stamped = f"{self.elapsed():5.1f}s  {text}"
        self.events.append(stamped)
        log.info("%s", text)
        if not self.options.live:
            self.console.print(stamped, highlight=False)

    def arrive(self) -> None:
        while self.arrivals and self.arrivals[0].at_s <= self.elapsed():
            arrival = self.arrivals.popleft()
            if arrival.kind == "reclaim":
                victim = reclaim_spot_node(self.rng)
                if victim is None:  # no spot node up yet: try again shortly
                    self.arrivals.appendleft(Arrival(arrival.at_s + 5, arrival.kind, arrival.params))
                    return
                self.reclaimed.append(victim)
                self.event(f"{arrival.describe()} (node …{victim[-6:]})")
                continue
            queued = self.submitter.submit(arrival)
            self.submitted[arrival.kind] += queued
            if arrival.kind not in ("signup", "refresh") or self.options.live:
                self.event(f"{arrival.describe()}: {queued:,} jobs")

    def check_settled(self) -> None:
        self.settled = not self.arrivals and self.scheduler.store.stats().settled

    def done(self) -> bool:
        elapsed = self.elapsed()
        return (elapsed >= self.duration_s and self.settled) or elapsed >= self.duration_s + self.options.grace_s


def run_demo(options: DemoOptions, console: Console) -> DemoReport:
    """Run the demo; everything it started is stopped when this returns or raises."""
    workdir = prepare_workdir(options.workdir)
    _log_to(workdir / "demo.log")
    console.print(f"[bold]ebbflow demo[/]: working in {workdir}; starting the emulator and the local fleet …")
    emulator = Emulator.start(workdir / "emulator.log")
    try:
        with FakeAutoscalingCluster(DEMO_NODE_TYPES) as cluster:
            ray.init(address=cluster.address, configure_logging=False, log_to_driver=False)
            try:
                return _run(options, workdir, emulator.url, console)
            finally:
                ray.shutdown()
    finally:
        emulator.stop()


def _run(options: DemoOptions, workdir: Path, emulator_url: str, console: Console) -> DemoReport:
    settings = demo_settings(workdir, emulator_url)
    scheduler = open_scheduler(settings)
    resources = Resources(settings.packs)
    try:
        world = World()
        size = options.size.scaled(options.minutes)
        catalogue = seed_catalogue(
            resources.index, world, size.catalogue, scheduler.clock.now_ms(), CATALOGUE_FIRST_VIDEO
        )
        console.print(f"index: {catalogue:,} known videos, last checked weeks ago")
        prices = SpotPrices(DEMO_NODE_TYPES, random.Random(options.seed))
        fleet = RayFleet(DEMO_NODE_TYPES, prices=prices)
        dispatcher = Dispatcher(scheduler, settings.dispatcher, StoreSource.from_settings(settings), head_name())
        autoscaler = make_autoscaler(settings, scheduler, fleet, busy_slots, dispatcher.unplaced)
        # no catch-up: on a fresh store it would queue the last hour's minutely ticks at once
        cron = CronRunner(scheduler, settings.cron, catch_up_s=0)
        _wait_for_floor(autoscaler, fleet, console)
        run = _Run(options, scheduler, Submitter(scheduler, resources, random.Random(options.seed)), console)
        run.arrivals.extend(timeline(world, size, run.duration_s, random.Random(options.seed)))
        cost = CostMeter({node_type.name: node_type for node_type in DEMO_NODE_TYPES})

        def decide() -> None:
            run.decision, run.decided_at = autoscaler.tick(), time.monotonic()
            launched = sum(n for n in run.decision.launches.values() if n > 0)
            run.launches += launched
            run.drains += len(run.decision.drains)
            if launched or run.decision.drains:
                run.event(f"autoscaler: {describe_actions(run.decision)} — {(run.decision.reasons or ('',))[0]}")

        def state() -> LiveState:
            nodes = fleet.nodes()
            cost.sample(nodes, prices.current(), time.time())
            age = None if run.decided_at is None else time.monotonic() - run.decided_at
            return LiveState(
                run.elapsed(), run.duration_s, scheduler.store.stats(), scheduler.clock.now_ms(),
                [level.name for level in settings.scheduler.levels], nodes, DEMO_NODE_TYPES, busy_slots(),
                run.decision, age, dispatcher.counts, list(run.events), prices.current(),
            )  # fmt: skip

        hooks: list[Callable[[], None]] = [
            run.arrive,
            Every(settings.head.maintain_every_s, scheduler.maintain),
            Every(settings.head.cron_every_s, cron.tick),
            Every(settings.autoscaler.period_s, decide),
            Every(0.5, run.check_settled),
        ]
        started_s = time.time()
        previous = signal.signal(signal.SIGINT, lambda *_: dispatcher.request_stop())
        try:
            if options.live:
                with Live(live_view(state()), console=console, auto_refresh=False) as live:
                    hooks.append(Every(1.0, lambda: live.update(live_view(state()), refresh=True)))
                    dispatcher.run(until=run.done, every=hooks)
            else:
                hooks.append(Every(10.0, lambda: console.print(_status_line(state()), highlight=False)))
                dispatcher.run(until=run.done, every=hooks)
        finally:
            signal.signal(signal.SIGINT, previous)
        return _report(options, run, scheduler, dispatcher, resources, cost, workdir, settings, started_s)
    finally:
        resources.close()
        scheduler.store.close()


def _report(
    options: DemoOptions,
    run: _Run,
    scheduler: Scheduler,
    dispatcher: Dispatcher,
    resources: Resources,
    cost: CostMeter,
    workdir: Path,
    settings: Settings,
    started_s: float,
) -> DemoReport:
    from ebbflow.chart import write_queue_chart

    history = scheduler.store.history(round(started_s * 1000) - 60_000)
    stats = scheduler.store.stats()
    report = DemoReport(
        seed=options.seed,
        run_s=run.elapsed(),
        submitted=run.submitted,
        levels=level_figures(history, [level.name for level in scheduler.config.levels]),
        finished_per_type=finished_per_type(history),
        counts=dispatcher.counts,
        reclaimed_nodes=run.reclaimed,
        dead_letters=stats.dead,
        left_pending=sum(stats.pending.values()) + sum(stats.running.values()) + stats.delayed,
        cost=cost,
        launches=run.launches,
        drains=run.drains,
        videos_indexed=resources.index.count(),
        videos_stale=resources.index.count(stale=True),
        workdir=workdir,
    )
    report.chart = write_queue_chart(settings, scheduler, started_s, time.time(), workdir / "queue-chart.png")
    return report


def _wait_for_floor(autoscaler: Autoscaler, fleet: RayFleet, console: Console) -> None:
    """Let the autoscaler bring up the on-demand floor before the clock starts: a real cluster always has it
    (cluster.yaml's min_workers), and a first sign-up waiting for a cold node would measure the demo's set-up."""
    console.print("fleet: starting the on-demand floor node …")
    ondemand = {node_type.name for node_type in DEMO_NODE_TYPES if node_type.market is Market.ON_DEMAND}
    deadline = time.monotonic() + FLOOR_TIMEOUT_S
    while time.monotonic() < deadline:
        autoscaler.tick()
        if any(node.node_type in ondemand and node.state == "running" for node in fleet.nodes()):
            return
        time.sleep(1.0)
    raise SchedulerError(f"the on-demand floor node did not start within {FLOOR_TIMEOUT_S:.0f} s (see demo.log)")


def _status_line(state: LiveState) -> str:
    pending = sum(state.stats.pending.values())
    running = sum(state.stats.running.values())
    up = Counter(node.state for node in state.nodes)
    return (
        f"{state.elapsed_s:5.1f}s  pending {pending:,}, running {running:,}, done {state.counts.done:,}; "
        f"nodes up {up['running'] + up['draining']}, starting {up['launching']}; "
        f"busy slots spot {state.busy.get(Market.SPOT, 0)}, on-demand {state.busy.get(Market.ON_DEMAND, 0)}"
    )


def _log_to(path: Path) -> None:
    """The head's log lines go to a file: on the console they would tear the live view."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


__all__ = ["DemoOptions", "DemoReport", "run_demo", "summary_view"]
