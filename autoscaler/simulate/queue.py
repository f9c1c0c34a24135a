"""The simulator's MLFQ: the scheduler's serve order (strict priority across levels, round robin between
tenants inside a level, FIFO per tenant), kept in memory for speed. Demotion and aging are left out: the
order they change is the scheduler's business, not the fleet's cost. Deadline promotion, which decides
which jobs may use on-demand slots, is the engine's (`Simulation._serve_level`)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable


class SimQueue:
    def __init__(self, levels: int) -> None:
        self._jobs: list[dict[int, deque[int]]] = [{} for _ in range(levels)]  # level -> tenant -> job ids
        self._turns: list[deque[int]] = [deque() for _ in range(levels)]  # tenants with jobs, in turn order
        self.count = [0] * levels
        self.work_s = [0.0] * levels

    def push(self, job: int, level: int, tenant: int, work_s: float, front: bool = False) -> None:
        fifo = self._jobs[level].get(tenant)
        if fifo is None:
            fifo = self._jobs[level][tenant] = deque()
            self._turns[level].append(tenant)
        if front:
            fifo.appendleft(job)  # a preempted job keeps its place
        else:
            fifo.append(job)
        self.count[level] += 1
        self.work_s[level] += work_s

    def pop(self, max_level: int, work: list[float]) -> tuple[int, int] | None:
        """The next job of the highest non-empty level up to max_level (inclusive), with its level; or None."""
        return self.pop_from(range(max_level + 1), work)

    def pop_from(self, levels: Iterable[int], work: list[float]) -> tuple[int, int] | None:
        """The next job of the first non-empty level of `levels` (tried in that order), with its level."""
        for level in levels:
            turns = self._turns[level]
            if not turns:
                continue
            tenant = turns.popleft()
            fifo = self._jobs[level][tenant]
            job = fifo.popleft()
            if fifo:
                turns.append(tenant)
            else:
                del self._jobs[level][tenant]
            self.count[level] -= 1
            self.work_s[level] = max(0.0, self.work_s[level] - work[job])
            return job, level
        return None

    def empty(self, max_level: int | None = None) -> bool:
        top = len(self.count) - 1 if max_level is None else max_level
        return not any(self.count[: top + 1])

    def total(self) -> int:
        return sum(self.count)


def finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) else value
