"""observe: build a Snapshot from the scheduler (queued work, deadlines, cron), the fleet and the
autoscaler's own memory. Only reads; every figure is stamped with the time it was read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence

from autoscaler.arrivals import QueueArrivals, QueueKey
from autoscaler.fleet import Fleet, FleetError
from autoscaler.snapshot import Action, Demand, Snapshot
from dispatcher.markets import Market
from scheduler.cron import CronSchedule
from scheduler.queue import Scheduler

DUE_SCAN = 200  # earliest deadlines looked at per level


def expected_run_s(scheduler: Scheduler) -> dict[str, float]:
    """Expected run time per type: measured (p90 of the last hour) or declared. Reads the history once."""
    return {name: ms / 1000 for name, ms in scheduler.expected_run_ms().items()}


def queued_demand(
    scheduler: Scheduler,
    now_s: float,
    expected_s: Mapping[str, float],
    arrivals: QueueArrivals | None = None,
    unplaced: Mapping[QueueKey, int] | None = None,
) -> list[Demand]:
    """Pending work per (level, type): count x expected run time, earliest deadline slack, market rules;
    with `arrivals`, the work arriving per second too (and a Demand for a type that arrives but has
    nothing pending). `unplaced` are jobs the dispatcher has leased but has no slot for in their markets:
    the store counts them as running, yet they wait for capacity exactly like pending ones. Left out, a
    spot pool drained to zero would never grow back for them (they are leased again as soon as given back)."""
    stats = scheduler.store.stats()
    stream = None if arrivals is None else arrivals.update(now_s, stats.pending, _leases(scheduler), expected_s)
    waiting = Counter(stats.pending)
    waiting.update(unplaced or {})
    slack = _deadline_slack(scheduler, now_s, expected_s, {level for level, _ in waiting})
    keys = {key for key, pending in waiting.items() if pending > 0}
    keys |= {key for key, rate in (stream or {}).items() if rate > 0}
    demands = []
    for level, job_type in sorted(keys):
        pending = waiting.get((level, job_type), 0)
        known = job_type in scheduler.registry
        spec = scheduler.registry.get(job_type) if known else None
        run_s = expected_s.get(job_type, spec.expected_run_s if spec else 1.0)
        demands.append(
            Demand(
                level=level,
                job_type=job_type,
                pending=pending,
                work_s=pending * run_s,
                min_slack_s=slack.get((level, job_type)),
                markets=spec.markets if spec else None,
                spot_cap_slots=spec.max_spot_concurrency if spec else None,
                oldest_wait_s=max(0.0, now_s - stats.oldest_enqueued_ms[level] / 1000)
                if level in stats.oldest_enqueued_ms
                else 0.0,
                arrival_work_s=None if stream is None else stream.get((level, job_type), 0.0),
            )
        )
    return demands


def _leases(scheduler: Scheduler) -> Callable[[int], Iterator[tuple[int, QueueKey, int]]]:
    """Jobs leased per epoch minute and (level, type), from a minute on (the scheduler's history)."""

    def leased(first_minute: int) -> Iterator[tuple[int, QueueKey, int]]:
        for bucket in scheduler.store.history(first_minute * 60_000):
            yield bucket.minute, (bucket.level, bucket.type), bucket.leased

    return leased


def _deadline_slack(
    scheduler: Scheduler, now_s: float, expected_s: Mapping[str, float], levels: set[int]
) -> dict[tuple[int, str], float]:
    """Least time left per (level, type): deadline minus now minus the expected run time."""
    cutoff = round((now_s + 10 * 365 * 86400) * 1000)
    slack: dict[tuple[int, str], float] = {}
    for level in levels:
        for job in scheduler.store.due(level, cutoff, DUE_SCAN):
            if job.deadline_ms is None:
                continue
            left = job.deadline_ms / 1000 - now_s - expected_s.get(job.type, 1.0)
            key = (level, job.type)
            slack[key] = min(slack.get(key, left), left)
    return slack


def scheduled_work_s(schedules: Sequence[CronSchedule], now_s: float, expected_s: Mapping[str, float]) -> float:
    """Expected work of the cron ticks at the next top of the hour."""
    next_hour_ms = (int(now_s) // 3600 + 1) * 3600 * 1000
    total = 0.0
    for schedule in schedules:
        if schedule.ticks(next_hour_ms - 1, next_hour_ms):
            total += expected_s.get(schedule.type, 1.0)
    return total


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
) -> Snapshot:
    expected_s = expected_run_s(scheduler)
    demand = queued_demand(scheduler, now_s, expected_s, arrivals, unplaced)
    return Snapshot(
        at_s=now_s,
        inputs_at_s=now_s,
        node_types=tuple(fleet.node_types()),
        nodes=tuple(fleet.nodes()),
        demand=tuple(demand),
        busy_slots=dict(busy_slots()),
        scheduled_work_s=scheduled_work_s(schedules, now_s, expected_s),
        spot_prices=fleet.spot_prices(),
        errors=tuple(errors),
        preemptions=dict(preemptions or {}),
        actions=tuple(actions),
    )
