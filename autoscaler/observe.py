"""observe: build a Snapshot from the scheduler (queued work, deadlines, cron, the season's forecast), the
fleet and the autoscaler's own memory. Only reads; every figure is stamped with the time it was read.

The figures the policy can do without (spreads, checkpoints, the forecast, the cron level) are read so that
a missing or broken one is None or its default, never an exception: the loop turns an exception into a
hold, which would stop all scaling for the want of a refinement."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence

from autoscaler.arrivals import QueueArrivals, QueueKey
from autoscaler.fleet import Fleet, FleetError
from autoscaler.forecast import ArrivalForecast
from autoscaler.snapshot import Action, Demand, Snapshot
from dispatcher.markets import Market
from scheduler.cron import CronSchedule
from scheduler.queue import Scheduler
from scheduler.registry import JobType

DUE_SCAN = 200  # earliest deadlines looked at per level
DEFAULT_SCHEDULED_LEVEL = 1  # where cron work is taken to land when no schedule ticks at the next hour
log = logging.getLogger(__name__)


def expected_run_s(scheduler: Scheduler) -> dict[str, float]:
    """Expected run time per type: measured (p90 of the last hour) or declared. Reads the history once."""
    return {name: ms / 1000 for name, ms in scheduler.expected_run_ms().items()}


def queued_demand(
    scheduler: Scheduler,
    now_s: float,
    expected_s: Mapping[str, float],
    arrivals: QueueArrivals | None = None,
    unplaced: Mapping[QueueKey, int] | None = None,
    forecast: ArrivalForecast | None = None,
) -> list[Demand]:
    """Pending work per (level, type): count x expected run time, earliest deadline slack, market rules,
    the type's run, checkpoint interval and elastic flag; with `arrivals`, the work arriving per second and
    its spread too (and a Demand for a type that arrives but has nothing pending); with `forecast`, the
    season's figure (and a Demand for a type the season says is coming, once the stream is known: the
    policy weighs a forecast against it). `unplaced` are jobs the dispatcher has leased but has no slot for
    in their markets: the store counts them as running, yet they wait for capacity exactly like pending
    ones. Left out, a spot pool drained to zero would never grow back for them (they are leased again as
    soon as given back)."""
    stats = scheduler.store.stats()
    stream = None if arrivals is None else arrivals.update(now_s, stats.pending, _leases(scheduler), expected_s)
    spreads = None if arrivals is None else arrivals.spreads()
    season = {} if forecast is None else forecast.at(now_s, stream, expected_s)
    waiting = Counter(stats.pending)
    waiting.update(unplaced or {})
    due = _due_soon(scheduler, now_s, expected_s, {level for level, _ in waiting})
    keys = {key for key, pending in waiting.items() if pending > 0}
    keys |= {key for key, rate in (stream or {}).items() if rate > 0}
    if stream is not None:
        keys |= {key for key, rate in season.items() if rate > 0}
    demands = []
    for level, job_type in sorted(keys):
        pending = waiting.get((level, job_type), 0)
        spec = scheduler.registry.get(job_type) if job_type in scheduler.registry else None
        run_s = _run_s(job_type, spec, expected_s)
        demands.append(
            Demand(
                level=level,
                job_type=job_type,
                pending=pending,
                work_s=pending * (run_s or 1.0),
                min_slack_s=min((start_by for start_by, _ in due.get((level, job_type), ())), default=None),
                markets=spec.markets if spec else None,
                spot_cap_slots=spec.max_spot_concurrency if spec else None,
                oldest_wait_s=max(0.0, now_s - stats.oldest_enqueued_ms[level] / 1000)
                if level in stats.oldest_enqueued_ms
                else 0.0,
                arrival_work_s=None if stream is None else stream.get((level, job_type), 0.0),
                arrival_spread=None if spreads is None else spreads.get((level, job_type), 0.0),
                run_s=run_s,
                lost_run_s=_positive(getattr(spec, "checkpoint_every_s", None)),
                due=tuple(due.get((level, job_type), ())),
                forecast_work_s=season.get((level, job_type)),
                elastic=getattr(spec, "elastic", False) is True,
            )
        )
    return demands


def _run_s(job_type: str, spec: JobType | None, expected_s: Mapping[str, float]) -> float | None:
    """One job's expected run: measured or declared (observe's expected_run_s), else the type's declared
    one; None for a type nobody knows (the Demand then falls back to its own)."""
    run = expected_s.get(job_type)
    if _positive(run) is None and spec is not None:
        run = spec.expected_run_s
    return _positive(run)


def _positive(value: object) -> float | None:
    """A figure in seconds, or None when it is missing or no such figure (not a number, infinite, <= 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def _leases(scheduler: Scheduler) -> Callable[[int], Iterator[tuple[int, QueueKey, int]]]:
    """Jobs leased per epoch minute and (level, type), from a minute on (the scheduler's history)."""

    def leased(first_minute: int) -> Iterator[tuple[int, QueueKey, int]]:
        for bucket in scheduler.store.history(first_minute * 60_000):
            yield bucket.minute, (bucket.level, bucket.type), bucket.leased

    return leased


def _due_soon(
    scheduler: Scheduler, now_s: float, expected_s: Mapping[str, float], levels: set[int]
) -> dict[tuple[int, str], list[tuple[float, float]]]:
    """Per (level, type), the earliest deadlines' jobs (DUE_SCAN per level, so bounded work per round), each
    as (time left to start it: deadline minus now minus its expected run, that run): the policy's uniform
    progress counts them one by one, and the rest of the queue as due after them."""
    cutoff = round((now_s + 10 * 365 * 86400) * 1000)
    due: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for level in levels:
        for job in scheduler.store.due(level, cutoff, DUE_SCAN):
            if job.deadline_ms is None:
                continue
            run = expected_s.get(job.type, 1.0)
            due.setdefault((level, job.type), []).append((job.deadline_ms / 1000 - now_s - run, run))
    return due


def scheduled_work_s(schedules: Sequence[CronSchedule], now_s: float, expected_s: Mapping[str, float]) -> float:
    """Expected work of the cron ticks at the next top of the hour."""
    return math.fsum(expected_s.get(schedule.type, 1.0) for schedule in _next_hour(schedules, now_s))


def scheduled_level(scheduler: Scheduler, schedules: Sequence[CronSchedule], now_s: float) -> int:
    """The level the cron ticks at the next top of the hour land at: the highest (smallest index) of theirs,
    DEFAULT_SCHEDULED_LEVEL when none ticks or none's level can be told."""
    levels = (_schedule_level(scheduler, schedule) for schedule in _next_hour(schedules, now_s))
    return min((level for level in levels if level is not None), default=DEFAULT_SCHEDULED_LEVEL)


def _schedule_level(scheduler: Scheduler, schedule: CronSchedule) -> int | None:
    """The level a tick's job is stored at, chosen as the submit's validator chooses it: the schedule's
    class, else its type's default class, else the scheduler's. None when the type is not registered or
    the class or its level is not configured: the validator refuses such a tick (the cron runner logs it).
    A tenant demotion may store it lower still; cron's tenant is rarely demoted, and the highest is safe."""
    config = scheduler.config
    if schedule.type not in scheduler.registry:
        return None
    spec = scheduler.registry.get(schedule.type)
    class_name = schedule.job_class or spec.default_class or config.default_class
    job_class = config.classes.get(class_name)
    if job_class is None:
        return None
    try:
        return config.level_index(job_class.level)
    except KeyError:
        log.warning("autoscaler: class %r names no configured level %r", class_name, job_class.level)
        return None


def _next_hour(schedules: Sequence[CronSchedule], now_s: float) -> list[CronSchedule]:
    """The schedules that tick at the next top of the hour."""
    next_hour_ms = (int(now_s) // 3600 + 1) * 3600 * 1000
    return [schedule for schedule in schedules if schedule.ticks(next_hour_ms - 1, next_hour_ms)]


def build_snapshot(
    scheduler: Scheduler,
    fleet: Fleet,
    now_s: float,
    busy_slots: Callable[[], Mapping[Market, int]],
    schedules: Sequence[CronSchedule] = (),
    errors: Sequence[FleetError] = (),
    preemptions: Mapping[str, int] | None = None,
    actions: Sequence[Action] = (),
    arrivals: QueueArrivals | None = None,
    unplaced: Mapping[QueueKey, int] | None = None,
    forecast: ArrivalForecast | None = None,
) -> Snapshot:
    """`forecast`: the season's (None: no forecast). `ondemand_busy_below_top` is left at 0 here: the busy
    slots come per market only, and the store does not know which market a running job holds; the loop
    fills it from the dispatcher in the same process (the head), which does."""
    expected_s = expected_run_s(scheduler)
    demand = queued_demand(scheduler, now_s, expected_s, arrivals, unplaced, forecast)
    return Snapshot(
        at_s=now_s,
        inputs_at_s=now_s,
        node_types=tuple(fleet.node_types()),
        nodes=tuple(fleet.nodes()),
        demand=tuple(demand),
        busy_slots=dict(busy_slots()),
        scheduled_work_s=scheduled_work_s(schedules, now_s, expected_s),
        scheduled_level=scheduled_level(scheduler, schedules, now_s),
        spot_prices=fleet.spot_prices(),
        errors=tuple(errors),
        preemptions=dict(preemptions or {}),
        actions=tuple(actions),
    )
