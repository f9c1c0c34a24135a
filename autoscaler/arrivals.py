"""The arrival stream: work-seconds arriving per second, per (level, job type), robust to bursts.

The autoscaler sizes the fleet for two loads: the queue (worked off within a horizon) and the work that
keeps arriving while it does so. One click that queues 10,000 jobs is queue, not stream: a plain mean
of the last minutes would read it as a stream that lasts, and launch for it round after round. A median
of the rounds ignores bursts but reads a skewed stream low (a few long jobs make a round's work; most
rounds have fewer), by 5% for the background level of the synthetic week, and that shortfall piles up as
queue. So the stream is the mean, over the last `window` rounds, of the work each round saw arrive, each
round first cut to the median plus five robust standard deviations: a burst or the hourly cron wave
lands in one round and is cut to size, while a lasting rise moves the figure within the window.
"""

from __future__ import annotations

import statistics
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)

DEFAULT_WINDOW = 15  # rounds (of a minute each by default)
MIN_ROUNDS = 3  # fewer rounds than this (a head just started) give no figure: a median of one is noise


class ArrivalStream(Generic[Key]):
    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1 round, not {window}")
        self.window = window
        self._rounds: deque[tuple[float, dict[Key, float]]] = deque(maxlen=window)  # (seconds, work-s)

    def add(self, seconds: float, arrived_work_s: Mapping[Key, float]) -> None:
        """What arrived in the last `seconds`: work-seconds per key (keys not named: none)."""
        if seconds > 0:
            self._rounds.append((seconds, {key: max(0.0, work) for key, work in arrived_work_s.items()}))

    @property
    def ready(self) -> bool:
        return len(self._rounds) >= min(MIN_ROUNDS, self.window)

    def rates(self) -> dict[Key, float] | None:
        """Work-seconds per second per key: the mean per-round rate of the window, each round first cut to
        the window's median plus `CLIP_SPREADS` robust standard deviations, at least half the median (a
        round without the key counts as zero). A burst lands in one round and is cut to size; the heavy tail
        of ordinary rounds is kept, which a plain median would drop (it reads a skewed stream low). None
        until `MIN_ROUNDS` rounds."""
        if not self.ready:
            return None
        rates = {}
        for key, per_round in self._per_round().items():
            middle, spread = _middle_and_spread(per_round)
            # a steady stream has rounds alike (no spread at all in a test's or a cron's), and a ceiling at
            # the median would then cut a rise that fills less than half the window
            ceiling = middle + CLIP_SPREADS * max(spread, SPREAD_FLOOR * middle)
            rates[key] = statistics.fmean(min(rate, ceiling) for rate in per_round)
        return rates

    def spreads(self) -> dict[Key, float] | None:
        """How much each key's per-round rate varies over the window: a standard deviation read from the
        median absolute deviation (x 1.4826, its ratio for normal data), so that a burst in one round does
        not count as variance the fleet must keep spare slots for. None until `MIN_ROUNDS` rounds."""
        if not self.ready:
            return None
        return {key: _middle_and_spread(per_round)[1] for key, per_round in self._per_round().items()}

    def _per_round(self) -> dict[Key, list[float]]:
        """Each key's rate in every round of the window (a round without the key: zero)."""
        keys = {key for _, arrived in self._rounds for key in arrived}
        return {key: [arrived.get(key, 0.0) / seconds for seconds, arrived in self._rounds] for key in keys}


def _middle_and_spread(rates: list[float]) -> tuple[float, float]:
    """The median, and a standard deviation read from the median absolute deviation."""
    middle = statistics.median(rates)
    return middle, MAD_TO_SD * statistics.median(abs(rate - middle) for rate in rates)


MAD_TO_SD = 1.4826
CLIP_SPREADS = 5.0
SPREAD_FLOOR = 0.5  # of the median: the least spread a round is cut at
QueueKey = tuple[int, str]  # (level, job type)


class QueueArrivals:
    """The stream of a real queue, which counts no submits: the jobs that arrived between two looks are
    those leased in between plus the growth of the pending count. Leases come from the scheduler's
    per-minute history (whole minutes only, each counted once), so one round's figure can be off by up
    to a minute's leases, but none is lost or counted twice: the median smooths the rest.
    Jobs that move between levels (aging, demotion) look like arrivals at one level and departures at
    another; the median keeps such moves from lasting."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        self.stream: ArrivalStream[QueueKey] = ArrivalStream(window)
        self._pending: dict[QueueKey, int] | None = None
        self._at_s = 0.0
        self._next_minute = 0  # the first whole minute whose leases are not counted yet

    def update(
        self,
        now_s: float,
        pending: Mapping[QueueKey, int],
        leased_by_minute: Callable[[int], Iterable[tuple[int, QueueKey, int]]],
        expected_run_s: Mapping[str, float],
    ) -> dict[QueueKey, float] | None:
        """Work-seconds arriving per second per (level, type). `leased_by_minute(first_minute)` gives
        (epoch minute, key, jobs leased) from that minute on. None until enough rounds were seen."""
        minute = int(now_s // 60)
        if self._pending is None:
            self._pending, self._at_s, self._next_minute = dict(pending), now_s, minute
            return None
        leased: Counter[QueueKey] = Counter()
        for at_minute, key, count in leased_by_minute(self._next_minute):
            if self._next_minute <= at_minute < minute:
                leased[key] += count
        arrived = {
            key: max(0, leased[key] + pending.get(key, 0) - self._pending.get(key, 0)) * expected_run_s.get(key[1], 1.0)
            for key in {*leased, *pending, *self._pending}
        }
        self.stream.add(now_s - self._at_s, arrived)
        self._pending, self._at_s, self._next_minute = dict(pending), now_s, max(self._next_minute, minute)
        return self.stream.rates()

    def spreads(self) -> dict[QueueKey, float] | None:
        """How much each key's arrival rate varies from round to round, as of the last `update` (see
        ArrivalStream.spreads). None until enough rounds were seen."""
        return self.stream.spreads()
