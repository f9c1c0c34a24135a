"""What the simulated policy is told about the queue, as production's observer tells it (observe.py): per
level the queued work, its least deadline slack and oldest wait, the arrival stream and how much it varies,
the season's forecast, its jobs' typical run and what a reclaim costs them, and the cron wave of the hour.

It watches jobs arrive and reads the engine's queue and job times when asked; it decides nothing.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

from autoscaler.arrivals import ArrivalStream
from autoscaler.forecast import seasonal_forecast
from autoscaler.simulate.queue import SimQueue
from autoscaler.snapshot import Demand

CRON_TICK_S = 0.001  # a job that arrives within this of the top of an hour is a cron tick's
HOUR_S = 3600
DUE_STEP_S = 60.0  # queued work is told by when it must start in steps of this
DUE_WINDOW_S = 7200.0  # ... up to this far ahead (the policy buys on-demand for less than that ahead)


class QueueWatch:
    def __init__(
        self,
        levels: int,
        work: Sequence[float],
        level: Sequence[int],
        checkpoint: Sequence[float],
        epoch_s: float,
        period_s: float,
        target_wait_s: Sequence[float],
    ) -> None:
        self.levels = levels
        self.epoch_s = epoch_s  # the calendar time of the simulation's t = 0
        self.period_s = period_s  # one round of the policy
        self.stream: ArrivalStream[int] = ArrivalStream()  # work arriving per level (production: arrivals.py)
        self._arrived_work = [0.0] * levels  # since the last round
        # per level, lazy min-heaps of (latest start: deadline - work, job) and (arrival, job) of waiting jobs
        self.latest_starts: list[list[tuple[float, int]]] = [[] for _ in range(levels)]
        self.waiting: list[list[tuple[float, int]]] = [[] for _ in range(levels)]
        # work arrived per level and epoch hour, for the season's forecast (production: the scheduler's
        # roll-ups); only what the simulation itself has seen, so a week's trace has a day behind it by its
        # second day, and no "last week" at all
        self.hourly_work: list[dict[int, float]] = [{} for _ in range(levels)]
        self._first_hour: int | None = None
        self.shape = level_shapes(levels, level, work, checkpoint)  # (mean run, mean lost run) per level
        # queued work per level by the step in which it must start (its deadline less its work, else its
        # arrival plus its level's target wait); steps gone by are folded into `late`
        self.target_wait_s = tuple(target_wait_s)
        self.due: list[dict[int, float]] = [{} for _ in range(levels)]
        self.late = [0.0] * levels
        self._late_before: int | None = None  # steps before this one are in `late`
        self._due_of: dict[int, tuple[int, int, float]] = {}  # queued job -> (level, step, work)
        self.wave_work = 0.0  # work of the jobs that arrived at the top of the current hour
        self.wave_level = 1
        self._wave_hour = -1

    def arrived(self, job: int, level: int, at_s: float, work_s: float, deadline_s: float) -> None:
        if not math.isnan(deadline_s):
            heapq.heappush(self.latest_starts[level], (deadline_s - work_s, job))
        heapq.heappush(self.waiting[level], (at_s, job))
        self._arrived_work[level] += work_s
        hour, second = divmod(at_s + self.epoch_s, HOUR_S)
        self.hourly_work[level][int(hour)] = self.hourly_work[level].get(int(hour), 0.0) + work_s
        if self._first_hour is None:
            self._first_hour = int(hour)
        if second < CRON_TICK_S:
            # cron ticks submit at the top of the hour: the work of the jobs that arrive exactly then is what
            # the next hour's tick will bring (production reads it off the cron schedules)
            if hour != self._wave_hour:
                self._wave_hour, self.wave_work, self.wave_level = int(hour), 0.0, level
            self.wave_work += work_s
            self.wave_level = min(self.wave_level, level)

    def queued(self, job: int, level: int, start_by_s: float, work_s: float) -> None:
        """A job waits (again) at `level` and must start by `start_by_s` (simulation time)."""
        step = math.floor(start_by_s / DUE_STEP_S)
        self._due_of[job] = (level, step, work_s)
        if self._late_before is not None and step < self._late_before:
            self.late[level] += work_s
        else:
            self.due[level][step] = self.due[level].get(step, 0.0) + work_s

    def started(self, job: int) -> None:
        found = self._due_of.pop(job, None)
        if found is None:
            return
        level, step, work = found
        if self._late_before is not None and step < self._late_before:
            self.late[level] = max(0.0, self.late[level] - work)
        else:
            left = self.due[level].get(step, 0.0) - work
            if left > 1e-9:
                self.due[level][step] = left
            else:
                self.due[level].pop(step, None)

    def due_soon(self, level: int, now_s: float) -> tuple[tuple[float, float], ...]:
        """(seconds until it must start, work-seconds) per step of the level's queued work due within
        DUE_WINDOW_S, work already late first (at 0)."""
        self._fold(now_s)
        first = math.floor(now_s / DUE_STEP_S)
        due = self.due[level]
        soon = [(0.0, self.late[level])] if self.late[level] > 1e-9 else []
        for step in range(first, first + int(DUE_WINDOW_S / DUE_STEP_S) + 1):
            work = due.get(step)
            if work:
                soon.append((max(0.0, step * DUE_STEP_S - now_s), work))
        return tuple(soon)

    def _fold(self, now_s: float) -> None:
        """Steps that have begun are late: their work moves into `late` (bounded work per round: one step
        a round, after the first round's sweep)."""
        first = math.floor(now_s / DUE_STEP_S)
        if self._late_before is None:
            for level, due in enumerate(self.due):
                for step in [step for step in due if step < first]:
                    self.late[level] += due.pop(step)
        else:
            for step in range(self._late_before, first):
                for level, due in enumerate(self.due):
                    self.late[level] += due.pop(step, 0.0)
        self._late_before = max(first, self._late_before or first)

    def round_over(self) -> None:
        self.stream.add(self.period_s, dict(enumerate(self._arrived_work)))
        self._arrived_work = [0.0] * self.levels

    def demands(
        self, now_s: float, queue: SimQueue, started: Sequence[float], lookahead_s: float
    ) -> tuple[Demand, ...]:
        """One Demand per level with queued work or arrivals (a job whose `started` is not NaN waits no more)."""
        streams = self.stream.rates()
        known = streams or {}
        spreads = self.stream.spreads() or {}
        forecast = self._forecast(now_s, streams, lookahead_s)
        return tuple(
            self._demand(
                level, now_s, queue, started, None if streams is None else known.get(level, 0.0), spreads, forecast
            )
            for level in range(self.levels)
            if queue.count[level] or known.get(level, 0.0) > 0
        )

    def _forecast(self, now_s: float, streams: dict[int, float] | None, lookahead_s: float) -> dict[int, float]:
        """The season's figure per level over the coming lookahead, from the hours seen so far (forecast.py,
        as production reads the scheduler's roll-ups: history counts from the hour after the first seen)."""
        if self._first_hour is None:
            return {}
        work = {level: hours for level, hours in enumerate(self.hourly_work) if hours}
        present = self.stream.window * self.period_s
        return seasonal_forecast(work, self._first_hour + 1, now_s + self.epoch_s, lookahead_s, streams, present)

    def _demand(
        self,
        level: int,
        now_s: float,
        queue: SimQueue,
        started: Sequence[float],
        stream: float | None,
        spreads: dict[int, float],
        forecast: dict[int, float],
    ) -> Demand:
        heap = self.latest_starts[level]
        while heap and not math.isnan(started[heap[0][1]]):
            heapq.heappop(heap)  # started: no longer waiting
        waiting = self.waiting[level]
        while waiting and not math.isnan(started[waiting[0][1]]):
            heapq.heappop(waiting)
        count, work = queue.count[level], queue.work_s[level]
        run, lost = self.shape[level]
        return Demand(
            level,
            f"level-{level}",
            count,
            work,
            heap[0][0] - now_s if heap else None,
            oldest_wait_s=now_s - waiting[0][0] if waiting else 0.0,
            arrival_work_s=stream,
            arrival_spread=spreads.get(level),
            forecast_work_s=forecast.get(level),
            run_s=work / count if count else run,
            lost_run_s=lost,
            due=self.due_soon(level, now_s),
        )


def level_shapes(
    levels: int, level: Sequence[int], work: Sequence[float], checkpoint: Sequence[float]
) -> list[tuple[float, float]]:
    """Per level: the mean run of its jobs, and the mean work a reclaim costs one (since its last checkpoint,
    at most the run), over the whole trace: what its job types declare, as the autoscaler reads them."""
    run = [0.0] * levels
    lost = [0.0] * levels
    count = [0] * levels
    for k, w, every in zip(level, work, checkpoint, strict=True):
        run[k] += w
        lost[k] += min(w, every)
        count[k] += 1
    return [(run[k] / count[k], lost[k] / count[k]) if count[k] else (1.0, 1.0) for k in range(levels)]
