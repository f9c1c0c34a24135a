"""observe fills each Demand's shape from the queue and the job types (run, checkpoint, elastic, arrivals'
spread, the season's forecast) and the snapshot's cron level; a missing or broken figure is None or the
default, never an exception (which the loop would turn into a hold)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autoscaler.arrivals import QueueArrivals
from autoscaler.fleet import FleetNode
from autoscaler.forecast import HOUR_S, ArrivalForecast
from autoscaler.observe import build_snapshot, expected_run_s, queued_demand, scheduled_level
from autoscaler.snapshot import Demand
from dispatcher.markets import Market
from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.clock import FakeClock
from scheduler.cron import CronSchedule
from scheduler.queue import Scheduler
from scheduler.registry import JobType, JobTypeRegistry
from scheduler.sqlite_store import SQLiteStore
from scheduler.store import ArrivalBucket
from tests.autoscaler.fake_fleet import FakeFleet
from tests.autoscaler.snapshots import NOW_MS, PRICES, TYPES

T = NOW_MS / 1000  # ten minutes past an hour
RENDER = JobType("render", expected_run_s=120.0, checkpoint_every_s=30.0, elastic=True, default_class="daily-active")


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Scheduler]:
    store = SQLiteStore(tmp_path / "q.db", levels=4)
    yield Scheduler(store, registry=JobTypeRegistry([*BUILTIN_TYPES, RENDER]), clock=FakeClock(NOW_MS))
    store.close()


def submit(scheduler: Scheduler, job_type: str, count: int, **options: Any) -> None:
    payload = {"seconds": 1} if job_type == "sleep" else {}
    scheduler.submit_many([scheduler.prepare(job_type, payload, tenant="t", **options) for _ in range(count)])


def by_type(demands: list[Demand]) -> dict[str, Demand]:
    return {demand.job_type: demand for demand in demands}


def test_a_demand_carries_its_types_run_checkpoint_and_elastic_flag(queue: Scheduler) -> None:
    # given: noop ran for 2 s lately; render never ran (declares 2 minutes, checkpoints every 30 s, elastic)
    submit(queue, "noop", 5)
    clock = queue.clock
    assert isinstance(clock, FakeClock)
    leases = queue.lease(5)
    clock.advance(2)
    queue.ack(leases)
    submit(queue, "noop", 3)
    submit(queue, "render", 4)
    # when
    demands = by_type(queued_demand(queue, clock.now_ms() / 1000, expected_run_s(queue)))
    # then
    noop, render = demands["noop"], demands["render"]
    assert noop.run_s == pytest.approx(2.0, rel=0.15) and noop.lost_run_s is None and noop.elastic is False
    assert (render.run_s, render.lost_run_s, render.elastic) == (120.0, 30.0, True)
    assert render.work_s == 4 * 120.0 and render.level == 1  # its default class: daily-active


def test_broken_or_unknown_figures_are_none_not_errors(queue: Scheduler, tmp_path: Path) -> None:
    submit(queue, "render", 2)
    submit(queue, "noop", 1)
    # a type unregistered since its jobs were queued, and a checkpoint interval that is no number
    broken = dataclasses.replace(RENDER, name="render")
    object.__setattr__(broken, "checkpoint_every_s", float("nan"))
    elsewhere = Scheduler(queue.store, registry=JobTypeRegistry([broken]), clock=queue.clock)
    demands = by_type(queued_demand(elsewhere, T, {"render": float("inf")}))
    assert demands["noop"].run_s is None and demands["noop"].lost_run_s is None and not demands["noop"].elastic
    assert demands["noop"].work_s == 1.0  # counted at a second a job, as before
    assert demands["render"].run_s == 120.0 and demands["render"].lost_run_s is None  # the declared run


def test_the_spread_of_the_arrivals_comes_with_their_rate(queue: Scheduler) -> None:
    clock = queue.clock
    assert isinstance(clock, FakeClock)
    arrivals = QueueArrivals()
    demands: list[Demand] = []
    for count in (10, 10, 20, 30, 20, 10):  # jobs a minute, each leased and gone within it
        submit(queue, "noop", count, job_class="weekly-active")
        queue.ack(queue.lease(count))
        clock.advance(60)
        demands = queued_demand(queue, clock.now_ms() / 1000, {"noop": 6.0}, arrivals)
        if arrivals.spreads() is None:
            assert all(demand.arrival_spread is None for demand in demands)
    # the first look sets the count; then rounds of 1, 2, 3, 2, 1 work-s per second: a median of 2, a
    # median absolute deviation of 1, read as a standard deviation of 1.4826
    (noop,) = demands
    assert noop.arrival_work_s == pytest.approx(1.8)
    assert noop.arrival_spread == pytest.approx(1.4826)


def test_a_type_the_season_says_is_coming_gets_a_demand_once_the_stream_is_known(queue: Scheduler) -> None:
    # given: yesterday and last week, 3,600 render jobs arrived in the next hour (and none now)
    now = T + 45 * 60  # 55 past: the lookahead ends in the next hour
    next_hour = int(now // HOUR_S) + 1
    history = [ArrivalBucket(next_hour - 24 * 9, "noop", 3, 1, 1)]  # recording since more than a week
    history += [ArrivalBucket(next_hour - 24 * days, "render", 1, 3600, 3600) for days in (1, 7)]
    forecast = ArrivalForecast(lambda since: history, lookahead_s=360.0)
    arrivals = QueueArrivals(window=1)
    # the first look knows no stream: the forecast alone makes no Demand
    assert queued_demand(queue, now - 60, {"render": 120.0}, arrivals, forecast=forecast) == []
    (render,) = queued_demand(queue, now, {"render": 120.0}, arrivals, forecast=forecast)
    assert (render.level, render.pending, render.arrival_work_s) == (1, 0, 0.0)
    assert render.forecast_work_s == pytest.approx(120.0)  # 3,600 jobs of 2 minutes in an hour


def cron(name: str, when: str, job_type: str = "noop", job_class: str | None = None) -> CronSchedule:
    return CronSchedule.model_validate({"name": name, "cron": when, "type": job_type, "class": job_class})


@pytest.mark.parametrize(
    ("schedules", "level"),
    [
        ((), 1),  # none: the default
        ((cron("weekly", "0 * * * *", job_class="weekly-active"),), 2),
        (
            (cron("weekly", "0 * * * *", job_class="weekly-active"), cron("signup", "0 * * * *", "noop", "new-signup")),
            0,
        ),
        ((cron("weekly", "0 * * * *", job_class="weekly-active"), cron("half", "30 * * * *", "noop", "new-signup")), 2),
        ((cron("render", "0 * * * *", "render"),), 1),  # its type's default class: daily-active
        ((cron("noop", "0 * * * *", "noop"),), 3),  # the scheduler's default class: batch, background
        ((cron("nope", "0 * * * *", job_class="nope"),), 1),  # a class not configured: its ticks are refused
        ((cron("gone", "0 * * * *", "gone"),), 1),  # a type not registered: refused too
    ],
)
def test_the_cron_level_is_the_highest_of_the_next_hours_schedules(
    queue: Scheduler, schedules: tuple[CronSchedule, ...], level: int
) -> None:
    assert scheduled_level(queue, schedules, T) == level


def test_the_snapshot_carries_the_cron_level(queue: Scheduler) -> None:
    fleet = FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)])
    schedules = [cron("signup", "0 * * * *", "noop", "new-signup")]
    snapshot = build_snapshot(queue, fleet, T, lambda: {Market.ON_DEMAND: 2}, schedules)
    assert snapshot.scheduled_level == 0 and snapshot.scheduled_work_s == pytest.approx(0.001)
    assert snapshot.ondemand_busy_below_top == 0  # no source for it yet: busy slots come per market only
