"""How many jobs one Ray task carries, from each type's measured run time.

A Ray task costs about a millisecond of overhead, so a no-op job run alone is mostly overhead; batched, a
task carries about `target_task_s` of work. A long job gets a task of its own. After a worker crash in a
batch, the type runs one job per task for a while, so the job that crashed it fails on its own instead of
taking its batch mates down with it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.registry import JobType

SMOOTHING = 0.2  # weight of the newest observation in the moving average
SOLO_TASKS_AFTER_CRASH = 50


@dataclass(slots=True)
class BatchSizer:
    target_task_s: float
    max_batch: int
    _run_s: dict[str, float] = field(default_factory=dict)
    _solo_left: dict[str, int] = field(default_factory=dict)

    def observe(self, job_type: str, run_s: float) -> None:
        previous = self._run_s.get(job_type)
        self._run_s[job_type] = run_s if previous is None else previous + SMOOTHING * (run_s - previous)

    def expected_s(self, job_type: JobType) -> float:
        """Measured mean run time, or the type's own estimate until a run has been seen."""
        return self._run_s.get(job_type.name, job_type.expected_run_s)

    def size(self, job_type: JobType) -> int:
        if self._solo_left.get(job_type.name, 0) > 0:
            return 1
        fits = int(self.target_task_s / max(self.expected_s(job_type), 1e-6))
        return max(1, min(self.max_batch, fits))

    def isolate(self, job_type: str) -> None:
        self._solo_left[job_type] = SOLO_TASKS_AFTER_CRASH

    def task_started(self, job_type: str) -> None:
        left = self._solo_left.get(job_type, 0)
        if left > 0:
            self._solo_left[job_type] = left - 1
