"""The load of each level, in slots: the first step of need, pure like it.

Each (level, job type) Demand becomes slots of work:
* the queue: its queued work over its horizon (the level's target wait less what the oldest job has
  already waited, shortened by the least deadline slack; never shorter than the start-up lag, since no new
  node helps sooner); at the top of the hour, the cron work about to arrive, over `scheduled_horizon_s`;
* the stream: work arriving per second lately (`Demand.arrival_work_s`), or the season's forecast when
  that is higher (forecast.py): a stream needs slots of its own while the queue is worked off.
Busy slots are no measure of the stream: a fleet with a queue is all busy whatever the arrivals.

The work is split by where it may run (its type's `markets`): spot only (after the type's spot cap),
on-demand only, or either ("flex": the market is chosen per level by deadlines.py). Elastic work is
kept apart: it runs only on budget left over (decide.py).

Each level also carries what the market choice and the slack need: how soon its most pressing queued job
must start, its typical run, what a reclaim loses (the checkpoint interval), and how much its arrivals
vary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from autoscaler.config import AutoscalerConfig
from autoscaler.progress import QueuedWork
from autoscaler.slack import poisson_spread
from autoscaler.snapshot import Demand, Snapshot


@dataclass
class LevelLoad:
    level: int
    flex: float = 0.0  # slots of work that may run on either market
    flex_stream: float = 0.0  # of flex: the arrival stream's part (the urgent pool is sized on it)
    stream: float = 0.0  # of the whole load (elastic work aside): the arrival stream's part
    spot_only: float = 0.0
    ondemand_only: float = 0.0
    elastic: float = 0.0  # slots elastic work could use (not part of the need)
    start_by_s: float = math.inf  # the most pressing queued job must start within this
    horizon_s: float = math.inf  # a job arriving now must start within this (its target wait or deadline)
    queues: list[QueuedWork] = field(default_factory=list)  # its flexible queued work, by how soon it is due
    ondemand_credit: float = 0.0  # on-demand slots it has already (the top level's reserve beyond its stream)
    spread: float = 0.0  # standard deviation of the level's arrival rate per round, slots
    streams_known: bool = True
    _weight: float = 0.0
    _run: float = 0.0
    _lost: float = 0.0

    @property
    def total(self) -> float:
        return self.flex + self.spot_only + self.ondemand_only

    @property
    def run_s(self) -> float:
        """The typical run of its jobs, weighted by their work."""
        return self._run / self._weight if self._weight > 0 else 0.0

    @property
    def lost_s(self) -> float:
        """The work a reclaim costs its typical job (the time since its last checkpoint)."""
        return self._lost / self._weight if self._weight > 0 else 0.0

    def add_job_shape(self, slots: float, run_s: float, lost_s: float) -> None:
        self._weight += slots
        self._run += slots * run_s
        self._lost += slots * lost_s


def level_loads(snapshot: Snapshot, config: AutoscalerConfig, reasons: list[str]) -> dict[int, LevelLoad]:
    """Every level with work, by index."""
    loads: dict[int, LevelLoad] = {}
    spreads: dict[int, float] = {}
    for demand in snapshot.demand:
        if not (math.isfinite(demand.work_s) and demand.work_s >= 0):
            reasons.append(f"{demand.job_type}: queued work {demand.work_s} is not a number of seconds; left out")
            continue  # the guard holds on it anyway; decide itself must never fail on a bad input
        load = loads.setdefault(demand.level, LevelLoad(demand.level))
        if _add(load, demand, config, reasons):
            spreads[demand.level] = spreads.get(demand.level, 0.0) + _spread(demand, config) ** 2
    for level, variance in spreads.items():
        loads[level].spread = math.sqrt(variance)
    _add_scheduled(snapshot, config, loads, reasons)
    return loads


def _add(load: LevelLoad, demand: Demand, config: AutoscalerConfig, reasons: list[str]) -> bool:
    """Add one demand's work to its level; True if its arrivals' variance asks for slack (not elastic work,
    nor a type held at its spot cap, which can use no more slots whatever arrives)."""
    queued = demand.work_s / queue_horizon_s(demand, config)
    stream = _stream(demand, config, load)
    load.start_by_s = min(load.start_by_s, start_by_s(demand, config))
    load.horizon_s = min(load.horizon_s, config.horizon_s(demand.level))
    if demand.elastic or demand.level in config.elastic_levels:
        load.elastic += queued + stream
        return False
    cap = demand.spot_cap_slots
    capped = demand.markets == "spot" and cap is not None and queued + stream >= cap
    if capped and cap is not None and queued + stream > cap:
        reasons.append(f"{demand.job_type}: needs {queued + stream:.1f} spot slots, capped at {cap}")
        queued, stream = cap * queued / (queued + stream), cap * stream / (queued + stream)
    if demand.markets == "spot":
        load.spot_only += queued + stream
    elif demand.markets == "on-demand":
        load.ondemand_only += queued + stream
    else:
        load.flex += queued + stream
        load.flex_stream += stream
        if demand.work_s > 0:
            load.queues.extend(queued_work(demand, config))
    load.stream += stream
    load.add_job_shape(queued + stream, demand.mean_run_s, demand.lost_s)
    return not capped


def _stream(demand: Demand, config: AutoscalerConfig, load: LevelLoad) -> float:
    stream = demand.arrival_work_s
    if stream is None or not (math.isfinite(stream) and stream >= 0):
        load.streams_known = False
        return 0.0
    forecast = demand.forecast_work_s
    rise = stream * (1 + config.forecast_rise)
    if config.forecast and forecast is not None and math.isfinite(forecast) and forecast > rise:
        # launch ahead of a rise the season says is coming, but only a rise that stands out from the
        # references' hour-to-hour noise (otherwise taking the higher of two noisy figures pays for idle
        # slots every hour), and never past a bounded multiple of the present: a bad guess must not launch
        # a fleet
        ceiling = max(stream, demand.mean_run_s / config.period_s) * config.forecast_max_ratio
        stream = min(forecast, ceiling)
    return stream


def _spread(demand: Demand, config: AutoscalerConfig) -> float:
    spread = demand.arrival_spread
    if spread is not None and math.isfinite(spread) and spread >= 0:
        return spread
    rate = demand.arrival_work_s if demand.arrival_work_s is not None else 0.0
    return poisson_spread(rate if math.isfinite(rate) else 0.0, demand.mean_run_s, config.period_s)


def _add_scheduled(
    snapshot: Snapshot, config: AutoscalerConfig, loads: dict[int, LevelLoad], reasons: list[str]
) -> None:
    to_hour = 3600 - snapshot.at_s % 3600
    if not (snapshot.scheduled_work_s > 0 and to_hour <= config.startup_lag_s + config.period_s):
        return
    load = loads.setdefault(snapshot.scheduled_level, LevelLoad(snapshot.scheduled_level))
    slots = snapshot.scheduled_work_s / config.scheduled_horizon_s
    load.flex += slots
    load.start_by_s = min(load.start_by_s, to_hour + config.scheduled_horizon_s)
    load.queues.append(QueuedWork(snapshot.scheduled_work_s, to_hour + config.scheduled_horizon_s, 0.0))
    reasons.append(f"top of the hour in {to_hour:.0f} s: {snapshot.scheduled_work_s:.0f} work-s of cron jobs")


def queued_work(demand: Demand, config: AutoscalerConfig) -> list[QueuedWork]:
    """A demand's queue by when its jobs must start: its most pressing work as the observer saw it
    (`Demand.due`), the rest due after it; or, not knowing that, the jobs due evenly over the span of their
    arrivals (a level's jobs arrive with one target wait or deadline after them: the oldest must start
    within the target wait less its wait, the newest within the whole of it), and, when a deadline is
    sooner still (a long job whose deadline less its run comes first), that job on its own. Anchoring the
    whole queue at that one job would make all of it look as pressing."""
    spread = max(0.0, demand.oldest_wait_s) if math.isfinite(demand.oldest_wait_s) else 0.0
    by_wait = max(0.0, config.horizon_s(demand.level) - spread)
    if demand.due is not None:
        parts = [QueuedWork(work, max(0.0, start_by), 0.0) for start_by, work in demand.due if work > 0]
        rest = demand.work_s - sum(part.work_s for part in parts)
        if rest > 1e-9:  # due no sooner than the last of those, and by the newest job's target wait at most
            first = max([by_wait, *(part.start_by_s for part in parts)])
            parts.append(QueuedWork(rest, first, max(0.0, config.horizon_s(demand.level) - first)))
        return parts
    parts = [QueuedWork(demand.work_s, by_wait, spread)]
    pressing = start_by_s(demand, config)
    if pressing < by_wait:
        parts.append(QueuedWork(min(demand.work_s, demand.mean_run_s), pressing, 0.0))
    return parts


def start_by_s(demand: Demand, config: AutoscalerConfig) -> float:
    """How soon the most pressing of these jobs must start: its level's target wait less the oldest job's
    wait, or its deadline less its run, whichever is sooner (0: already late)."""
    left = config.horizon_s(demand.level)
    if demand.pending > 0 and math.isfinite(demand.oldest_wait_s) and demand.oldest_wait_s > 0:
        left -= demand.oldest_wait_s
    if demand.min_slack_s is not None and math.isfinite(demand.min_slack_s):
        left = min(left, demand.min_slack_s)
    return max(0.0, left)


def queue_horizon_s(demand: Demand, config: AutoscalerConfig) -> float:
    """The time over which queued work is sized: how soon it must start (at least `min_horizon_s`), but
    never shorter than the start-up lag (sizing for a shorter horizon launches nodes that arrive after the
    work is gone: the nodes up now and the on-demand pool serve it), and, with per-second billing, never
    longer than `fan_out_s`: the same work costs the same on more nodes for less time, and work left queued
    for hours is work an outage of the whole spot market can make late."""
    horizon = max(start_by_s(demand, config), config.min_horizon_s)
    if not config.hourly_billing:
        horizon = min(horizon, config.fan_out_s)
    return max(horizon, config.startup_lag_s)
