"""The season's forecast of arrivals per (level, job type): what the same time of day yesterday and the same
time of the week a week ago say will arrive over the coming start-up lag, scaled by how today compares.

The measured stream (arrivals.py) only moves once work arrives, and a node launched then takes work a
start-up lag later: a rise that comes back every Sunday evening is met late every Sunday. The scheduler keeps
hourly roll-ups of what was submitted (Scheduler.arrivals_by_hour), so the forecast is seasonal naive:

* ahead: each reference's rate in the hour holding now + lookahead, shifted back a day and a week. Hourly
  roll-ups cannot say where in an hour a rise begins, so the whole hour's mean counts from its first second:
  nodes launched a lookahead before the hour are up when it begins. The present needs no forecast: it is
  measured.
* present: each reference's rate over the span the measured stream is a mean of (its window), shifted back
  the same way, weighing each hour by how much of the span it covers.
* an hour far above both its neighbours is cut to size first, as the stream cuts a round: a burst that
  one click queued yesterday is no season;
* the references that history covers are averaged (a Sunday is like last Sunday and like Saturday evening),
  and the ahead figure is scaled by the measured stream over the references' present, clamped to
  [MIN_RATIO, MAX_RATIO]: a week 30% busier than the last is forecast 30% busier, and a quiet or a wild
  present moves the forecast at most that much.

Only complete hours are read: the current hour's bucket is still filling (read as a rate it would look like
a drop), and so may the first hour the store recorded (it began mid-hour), so history counts from the hour
after the first bucket. Within history, an hour without a bucket had no arrivals. No covered reference, or
no bucket of a key, means no forecast for it: the policy then reacts to the queue as before.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TypeVar

from autoscaler.arrivals import DEFAULT_WINDOW, QueueKey
from scheduler.store import ArrivalBucket

Key = TypeVar("Key", bound=Hashable)

HOUR_S = 3600
DAY_S = 24 * HOUR_S
WEEK_S = 7 * DAY_S
REFERENCES_S = (DAY_S, WEEK_S)  # how far back the same time is looked up: yesterday, last week
HISTORY_S = WEEK_S + DAY_S  # read this far back: the weekly reference, its present span and a day to spare
PRESENT_S = DEFAULT_WINDOW * 60.0  # the measured stream's span by default: its window of one-minute rounds
MIN_RATIO = 0.5  # today may be read as at most twice as quiet as its references...
MAX_RATIO = 2.0  # ...or twice as busy: beyond, the present is a burst or a lull, not the season
BURST_STEP = 1.5  # an hour above both its neighbours by more than this factor is cut to it (a burst)
log = logging.getLogger(__name__)


def seasonal_forecast(
    work_by_hour: Mapping[Key, Mapping[int, float]],
    first_hour: int,
    now_s: float,
    lookahead_s: float,
    measured: Mapping[Key, float] | None,
    present_s: float = PRESENT_S,
) -> dict[Key, float]:
    """Work-seconds per second expected per key over the coming `lookahead_s` (the start-up lag and a round).

    `work_by_hour`: work-seconds submitted per epoch hour per key, complete from `first_hour` on (an hour
    from it without an entry had none). `measured`: the stream now, per key over the last `present_s` (a key
    left out had none); None when not known yet, and the season is then taken as it was. A key without a
    forecast is left out."""
    if not (math.isfinite(now_s) and math.isfinite(lookahead_s) and math.isfinite(present_s)):
        return {}
    lookahead_s, present_s = max(0.0, lookahead_s), max(0.0, present_s)
    covered = [back for back in REFERENCES_S if _covers(first_hour, now_s - back, lookahead_s, present_s, now_s)]
    if not covered:
        return {}
    forecast = {}
    for key, raw in work_by_hour.items():
        hours = _without_bursts(raw)
        ahead = statistics.fmean(_hour_rate(hours, _hour(now_s - back + lookahead_s)) for back in covered)
        present = statistics.fmean(_mean_rate(hours, now_s - back - present_s, now_s - back) for back in covered)
        forecast[key] = ahead * _ratio(None if measured is None else measured.get(key, 0.0), present)
    return forecast


def _without_bursts(hours: Mapping[int, float]) -> dict[int, float]:
    """Each hour's work cut to BURST_STEP times the busier of the hours either side of it: the season rises
    and falls over hours, so its hours pass whole, while one click that queued 10,000 jobs at 14:25
    yesterday is a lone hour far above both neighbours, and no sign of a rise at 14:00 today."""
    cut = {}
    for hour, work in hours.items():
        neighbours = max(hours.get(hour - 1, 0.0), hours.get(hour + 1, 0.0))
        cut[hour] = min(work, BURST_STEP * neighbours) if neighbours > 0 else work
    return cut


def _covers(first_hour: int, then_s: float, lookahead_s: float, present_s: float, now_s: float) -> bool:
    """Whether history holds the reference at `then_s` whole: from its present span to its lookahead, every
    hour complete (from the first whole hour, and before the current one)."""
    return _hour(then_s - present_s) >= first_hour and _hour(then_s + lookahead_s) < _hour(now_s)


def _ratio(measured: float | None, present: float) -> float:
    """How today compares with its references now. Unknown, or nothing to compare with (the references saw
    no arrivals now): 1, the season as it was."""
    if measured is None or not (math.isfinite(measured) and measured >= 0) or present <= 0:
        return 1.0
    return min(MAX_RATIO, max(MIN_RATIO, measured / present))


def _mean_rate(hours: Mapping[int, float], start_s: float, end_s: float) -> float:
    """Work-seconds per second over [start_s, end_s), each hour's rate weighed by the part of it inside."""
    if end_s <= start_s:
        return _hour_rate(hours, _hour(start_s))
    total = 0.0
    hour = _hour(start_s)
    while hour * HOUR_S < end_s:
        inside = min(end_s, (hour + 1) * HOUR_S) - max(start_s, hour * HOUR_S)
        total += inside * _hour_rate(hours, hour)
        hour += 1
    return total / (end_s - start_s)


def _hour_rate(hours: Mapping[int, float], hour: int) -> float:
    work = hours.get(hour, 0.0)
    return work / HOUR_S if math.isfinite(work) and work > 0 else 0.0


def _hour(at_s: float) -> int:
    return math.floor(at_s / HOUR_S)


class ArrivalForecast:
    """The loop's forecaster: the scheduler's hourly roll-ups, read at most once an hour (past hours no
    longer change and the current one is never used), and the season's figure per (level, type) on each call.

    Work is counted as jobs x the run time the stream itself counts them at (`run_s`, observe's
    expected_run_s), not the submit's estimates: the two figures are compared and divided, and a type
    whose estimate is far from its measured run (noop declares a millisecond) would otherwise forecast
    nothing, or a flood. A type without a run time counts its estimates."""

    def __init__(
        self,
        read: Callable[[float], Iterable[ArrivalBucket]],
        lookahead_s: float,
        present_s: float = PRESENT_S,
        history_s: float = HISTORY_S,
    ) -> None:
        self.read = read  # Scheduler.arrivals_by_hour: buckets from the hour holding since_s on
        self.lookahead_s = lookahead_s
        self.present_s = present_s
        self.history_s = history_s
        self._read_hour: int | None = None
        self._first_hour = 0
        self._jobs: dict[QueueKey, dict[int, tuple[int, float]]] = {}  # hour -> (jobs, estimated work-s)

    def at(
        self, now_s: float, measured: Mapping[QueueKey, float] | None, run_s: Mapping[str, float]
    ) -> dict[QueueKey, float]:
        """Work-seconds per second per (level, type) over the coming lookahead; a key left out has no
        forecast. A failure (the store, a broken bucket) means no forecast this round, logged, never raised:
        the round goes on reacting to the queue."""
        try:
            self._refresh(now_s)
            work = {key: _work(key[1], hours, run_s) for key, hours in self._jobs.items()}
            return seasonal_forecast(work, self._first_hour, now_s, self.lookahead_s, measured, self.present_s)
        except Exception as err:
            log.warning("autoscaler: no arrival forecast this round: %s: %s", type(err).__name__, err)
            return {}

    def _refresh(self, now_s: float) -> None:
        hour = _hour(now_s)
        if hour == self._read_hour:
            return
        jobs: dict[QueueKey, dict[int, tuple[int, float]]] = {}
        for bucket in self.read(now_s - self.history_s):
            hours = jobs.setdefault((bucket.level, bucket.type), {})
            hours[int(bucket.hour)] = (bucket.submitted, bucket.work_ms / 1000)
        first = min((hour for hours in jobs.values() for hour in hours), default=None)
        # the first bucket's hour may have begun before the store recorded: history is whole from the next
        self._jobs, self._first_hour = jobs, (hour + 1 if first is None else first + 1)
        self._read_hour = hour


def _work(job_type: str, hours: Mapping[int, tuple[int, float]], run_s: Mapping[str, float]) -> dict[int, float]:
    run = run_s.get(job_type)
    if run is None or not (math.isfinite(run) and run > 0):
        return {hour: estimated for hour, (_, estimated) in hours.items()}
    return {hour: jobs * run for hour, (jobs, _) in hours.items()}
