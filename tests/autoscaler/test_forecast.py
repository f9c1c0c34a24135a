"""The season's forecast: yesterday's and last week's same hour, scaled by how today compares; only complete
hours read; and through the loop on a real queue, a rise seen yesterday is forecast before it comes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from autoscaler.config import AutoscalerConfig
from autoscaler.decision_log import DecisionLog
from autoscaler.fleet import FleetNode
from autoscaler.forecast import DAY_S, HOUR_S, WEEK_S, ArrivalForecast, seasonal_forecast
from autoscaler.loop import Autoscaler
from dispatcher.markets import Market
from scheduler.clock import FakeClock
from scheduler.queue import Scheduler
from scheduler.store import ArrivalBucket
from tests.autoscaler.fake_fleet import FakeFleet
from tests.autoscaler.snapshots import PRICES, TYPES

SUNDAY_1755 = datetime(2027, 1, 10, 17, 55, tzinfo=UTC).timestamp()  # a Sunday, five minutes to six
LOOKAHEAD_S = 360.0  # the default start-up lag and one round


def history(now_s: float, rate: Callable[[int], float], days: float = 8) -> dict[int, float]:
    """Work-seconds per hour from `days` back to the current hour (included, as the store holds it), each
    hour at `rate(hour)` work-seconds per second."""
    now_hour = int(now_s // HOUR_S)
    return {hour: rate(hour) * HOUR_S for hour in range(now_hour - int(days * 24), now_hour + 1)}


def first(work: dict[int, float]) -> int:
    return min(work)


def test_a_flat_history_forecasts_the_flat_rate() -> None:
    work = history(SUNDAY_1755, lambda hour: 10.0)
    forecast = seasonal_forecast({"a": work}, first(work), SUNDAY_1755, LOOKAHEAD_S, {"a": 10.0})
    assert forecast == {"a": pytest.approx(10.0)}


def test_a_sunday_evening_rise_seen_last_week_is_forecast_before_it_comes() -> None:
    # given: every hour at 10 work-s per second, but last Sunday from six to nine at 40
    last_sunday_six = int((SUNDAY_1755 - WEEK_S) // HOUR_S) + 1

    def rate(hour: int) -> float:
        return 40.0 if last_sunday_six <= hour < last_sunday_six + 3 else 10.0

    work = history(SUNDAY_1755, rate)
    # when: five minutes before six, the stream still at 10
    forecast = seasonal_forecast({"a": work}, first(work), SUNDAY_1755, LOOKAHEAD_S, {"a": 10.0})
    # then: the mean of last Sunday at six (40) and yesterday at six (10), above the stream now
    assert forecast["a"] == pytest.approx(25.0) and forecast["a"] > 10.0
    # an hour earlier the lookahead ends before six: nothing is announced yet
    earlier = seasonal_forecast({"a": work}, first(work), SUNDAY_1755 - HOUR_S, LOOKAHEAD_S, {"a": 10.0})
    assert earlier["a"] == pytest.approx(10.0)


def test_yesterday_alone_is_enough() -> None:
    now_hour = int(SUNDAY_1755 // HOUR_S)
    six_yesterday = now_hour + 1 - 24
    work = history(SUNDAY_1755, lambda hour: 20.0 if six_yesterday <= hour < six_yesterday + 2 else 10.0, days=1.5)
    forecast = seasonal_forecast({"a": work}, first(work), SUNDAY_1755, LOOKAHEAD_S, {"a": 10.0})
    assert forecast["a"] == pytest.approx(20.0)  # no week of history: yesterday's six o'clock alone


@pytest.mark.parametrize(
    ("measured", "expected"),
    [
        ({"a": 13.0}, 13.0),  # 30% busier than the references now: forecast 30% busier
        ({"a": 100.0}, 20.0),  # a burst is no season: at most twice
        ({"a": 1.0}, 5.0),  # a lull neither: at least half
        ({}, 5.0),  # known to have none arriving: the least
        (None, 10.0),  # the stream is not known yet: the season as it was
        ({"a": float("nan")}, 10.0),  # nor is a broken figure
    ],
)
def test_the_forecast_is_scaled_by_how_today_compares(measured: dict[str, float] | None, expected: float) -> None:
    work = history(SUNDAY_1755, lambda hour: 10.0)
    forecast = seasonal_forecast({"a": work}, first(work), SUNDAY_1755, LOOKAHEAD_S, measured)
    assert forecast["a"] == pytest.approx(expected)


def test_the_present_is_compared_over_the_streams_span_hour_by_hour() -> None:
    # given: every day 10 until six, 40 from six to nine; now 18:05, the stream a mean of 17:50 to 18:05
    now = SUNDAY_1755 + 600
    six = int(now // HOUR_S)
    work = history(now, lambda hour: 40.0 if (hour - six) % 24 < 3 else 10.0)
    # then: the references' present is 2/3 x 10 + 1/3 x 40 = 20, like today: the forecast is the season's 40
    forecast = seasonal_forecast({"a": work}, first(work), now, LOOKAHEAD_S, {"a": 20.0}, present_s=900.0)
    assert forecast["a"] == pytest.approx(40.0)


def test_nothing_seen_then_now_is_no_reason_to_scale() -> None:
    # last week and yesterday nothing arrived at this hour but a rise came at six: it is forecast whole
    now_hour = int(SUNDAY_1755 // HOUR_S)
    work = history(SUNDAY_1755, lambda hour: 30.0 if (now_hour + 1 - hour) % 24 == 0 else 0.0)
    forecast = seasonal_forecast({"a": work}, first(work), SUNDAY_1755, LOOKAHEAD_S, {"a": 4.0})
    assert forecast["a"] == pytest.approx(30.0)


def test_keys_without_history_and_history_too_short_have_no_forecast() -> None:
    work = history(SUNDAY_1755, lambda hour: 10.0)
    forecast = seasonal_forecast({"a": work}, first(work), SUNDAY_1755, LOOKAHEAD_S, {"a": 10.0, "b": 5.0})
    assert forecast.get("b") is None  # measured now, never submitted in history
    recent = history(SUNDAY_1755, lambda hour: 10.0, days=0.5)
    assert seasonal_forecast({"a": recent}, first(recent), SUNDAY_1755, LOOKAHEAD_S, {"a": 10.0}) == {}
    assert seasonal_forecast({}, 0, SUNDAY_1755, LOOKAHEAD_S, None) == {}


def test_the_current_incomplete_hour_is_not_read_as_a_drop() -> None:
    # given: ten minutes into an hour, its bucket holds a sixth of the hour's work so far
    now = SUNDAY_1755 - 45 * 60
    work = history(now, lambda hour: 10.0)
    work[int(now // HOUR_S)] = 10.0 * 600
    # then: the season is 10 whether the stream is known or not
    assert seasonal_forecast({"a": work}, first(work), now, LOOKAHEAD_S, None)["a"] == pytest.approx(10.0)
    assert seasonal_forecast({"a": work}, first(work), now, LOOKAHEAD_S, {"a": 10.0})["a"] == pytest.approx(10.0)
    # and a reference whose lookahead would end in the current hour is not used (only last week's is)
    then = int((now - WEEK_S + DAY_S) // HOUR_S)
    work[then] = work[then + 1] = 20.0 * HOUR_S
    assert seasonal_forecast({"a": work}, first(work), now, DAY_S + 60, None)["a"] == pytest.approx(20.0)


# -- the loop's forecaster: reads, caching, failures ---------------------------------------------------------


class Reader:
    """The scheduler's arrivals_by_hour over fixed buckets, counting reads; raises while `broken`."""

    def __init__(self, buckets: list[ArrivalBucket]) -> None:
        self.buckets = buckets
        self.reads: list[float] = []
        self.broken = False

    def __call__(self, since_s: float) -> list[ArrivalBucket]:
        self.reads.append(since_s)
        if self.broken:
            raise ConnectionError("store down")
        return [bucket for bucket in self.buckets if bucket.hour >= since_s // HOUR_S]


def flat_buckets(now_s: float, jobs_per_hour: int, days: float = 8, level: int = 2) -> list[ArrivalBucket]:
    hours = history(now_s, lambda hour: 1.0, days)
    return [ArrivalBucket(hour, "noop", level, jobs_per_hour, jobs_per_hour) for hour in hours]


def test_jobs_are_counted_at_the_run_time_the_stream_counts_them_at() -> None:
    forecast = ArrivalForecast(Reader(flat_buckets(SUNDAY_1755, 3600)), LOOKAHEAD_S)
    # 3600 jobs an hour of 2 s each (measured), though each was estimated at 1 ms
    assert forecast.at(SUNDAY_1755, None, {"noop": 2.0}) == {(2, "noop"): pytest.approx(2.0)}
    # a type without a run time counts its estimates
    assert forecast.at(SUNDAY_1755, None, {}) == {(2, "noop"): pytest.approx(0.001)}


def test_the_history_is_read_once_an_hour_and_at_most_eight_days_back() -> None:
    reader = Reader(flat_buckets(SUNDAY_1755, 3600))
    forecast = ArrivalForecast(reader, LOOKAHEAD_S)
    for minute in range(4):
        forecast.at(SUNDAY_1755 + 60 * minute, None, {"noop": 1.0})  # 17:55 to 17:58
    assert reader.reads == [SUNDAY_1755 - 8 * DAY_S]
    forecast.at(SUNDAY_1755 + 300, None, {"noop": 1.0})  # 18:00: a new hour
    assert len(reader.reads) == 2


def test_a_failing_read_is_no_forecast_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    reader = Reader(flat_buckets(SUNDAY_1755, 3600))
    reader.broken = True
    forecast = ArrivalForecast(reader, LOOKAHEAD_S)
    with caplog.at_level(logging.WARNING):
        assert forecast.at(SUNDAY_1755, None, {"noop": 1.0}) == {}
    assert "no arrival forecast" in caplog.text and "store down" in caplog.text
    reader.broken = False
    assert forecast.at(SUNDAY_1755 + 60, None, {"noop": 1.0}) == {(2, "noop"): pytest.approx(1.0)}


def test_the_first_hour_recorded_is_not_read_as_a_lull() -> None:
    # the store began recording yesterday at 17:50: its 17:00 bucket holds ten minutes of an hour's jobs
    yesterday_five = int((SUNDAY_1755 - DAY_S) // HOUR_S)
    buckets = [ArrivalBucket(yesterday_five, "noop", 2, 600, 600)]
    buckets += [ArrivalBucket(hour, "noop", 2, 3600, 3600) for hour in range(yesterday_five + 1, yesterday_five + 25)]
    forecast = ArrivalForecast(Reader(buckets), LOOKAHEAD_S)
    # at 17:55 yesterday's present span is that hour: no forecast rather than twice the season
    assert forecast.at(SUNDAY_1755, {(2, "noop"): 1.0}, {"noop": 1.0}) == {}
    # an hour later it is whole history
    assert forecast.at(SUNDAY_1755 + HOUR_S, {(2, "noop"): 1.0}, {"noop": 1.0}) == {(2, "noop"): pytest.approx(1.0)}


# -- through the loop, on a real queue -----------------------------------------------------------------------


def test_jobs_submitted_an_hour_later_yesterday_are_forecast_by_the_loop(scheduler: Scheduler, tmp_path: Path) -> None:
    clock = scheduler.clock
    assert isinstance(clock, FakeClock)
    hour_now = clock.now_ms() // 1000 // HOUR_S * HOUR_S

    def weekly_noops(count: int) -> None:
        scheduler.submit_many(
            [scheduler.prepare("noop", {}, tenant="t", job_class="weekly-active") for _ in range(count)]
        )

    # given: the store recording since the hour before (its first hour may be partial, so it is not read),
    # yesterday 1,800 jobs arrived in this hour and 3,600 in each of the next two (all run and gone since)
    clock.advance(hour_now - DAY_S - HOUR_S - clock.now_ms() / 1000)
    weekly_noops(1)
    clock.advance(HOUR_S)
    weekly_noops(1800)
    clock.advance(HOUR_S)
    weekly_noops(3600)
    clock.advance(HOUR_S)
    weekly_noops(3600)
    scheduler.ack(scheduler.lease(9001))
    # when: today 30 such jobs arrive a minute, each leased, run 2 s and acked, from 48 minutes past
    clock.advance(hour_now + 48 * 60 - clock.now_ms() / 1000)
    autoscaler = Autoscaler(
        scheduler,
        FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)]),
        AutoscalerConfig(),
        DecisionLog(tmp_path / "decisions.jsonl"),
        busy_slots=lambda: {Market.SPOT: 0},
        clock=lambda: clock.now_ms() / 1000,
    )
    seen = []
    for _ in range(6):
        weekly_noops(30)
        leases = scheduler.lease(30)
        clock.advance(2)
        scheduler.ack(leases)
        clock.advance(58)
        snapshot = autoscaler.observe(clock.now_ms() / 1000)
        seen += [demand for demand in snapshot.demand if demand.level == 2]
    # then: at 53 past the lookahead still ends in this hour, which yesterday was like today
    at_53, at_54 = seen[-2], seen[-1]
    assert at_53.arrival_work_s is not None and at_53.forecast_work_s is not None
    assert at_53.forecast_work_s == pytest.approx(at_53.arrival_work_s, rel=0.01)
    # at 54 past it ends in the next hour, when yesterday twice as much arrived
    assert at_54.arrival_work_s is not None and at_54.forecast_work_s is not None
    assert at_54.forecast_work_s == pytest.approx(2 * at_54.arrival_work_s, rel=0.01)
    assert at_54.arrival_work_s == pytest.approx(30 * 2 / 60, rel=0.15)  # 30 jobs a minute of about 2 s


def test_the_loop_forecasts_nothing_when_the_config_says_so(scheduler: Scheduler, tmp_path: Path) -> None:
    clock = scheduler.clock
    assert isinstance(clock, FakeClock)
    scheduler.submit_many([scheduler.prepare("noop", {}, tenant="t") for _ in range(100)])
    reader = Reader(flat_buckets(clock.now_ms() / 1000, 3600, level=3))
    autoscaler = Autoscaler(
        scheduler,
        FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)]),
        AutoscalerConfig(forecast=False),
        DecisionLog(tmp_path / "decisions.jsonl"),
        busy_slots=lambda: {Market.SPOT: 0},
        clock=lambda: clock.now_ms() / 1000,
    )
    autoscaler.forecast.read = reader
    snapshot = autoscaler.observe(clock.now_ms() / 1000)
    # the season is not even read
    assert reader.reads == [] and [demand.forecast_work_s for demand in snapshot.demand] == [None]


def test_a_lone_burst_yesterday_is_cut_to_the_hours_around_it() -> None:
    # one click queued 30 hours of work at six yesterday, the hours around it at 10: no rise is announced
    # beyond what a season could bring (1.5 x the busier neighbour)
    now_hour = int(SUNDAY_1755 // HOUR_S)
    work = history(SUNDAY_1755, lambda hour: 300.0 if hour == now_hour + 1 - 24 else 10.0, days=1.5)
    forecast = seasonal_forecast({"a": work}, first(work), SUNDAY_1755, LOOKAHEAD_S, {"a": 10.0})
    assert forecast["a"] == pytest.approx(15.0)
