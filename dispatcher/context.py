"""What a job's `run(payload, ctx)` gets when the dispatcher runs it on a Ray worker.

The context talks to the job store itself (opened on first use, once per worker process), so a checkpoint
is durable when `save_checkpoint` returns, even if the node vanishes a moment later. Every write carries
the lease's fencing token: a run that lost its lease can no longer overwrite a newer run's checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Protocol

from scheduler.job import Job, JSONValue, Lease
from scheduler.queue import Scheduler

NOTICE_POLL_S = 0.5  # how often stop_requested() asks Ray whether this node is being drained


class JobInterrupted(Exception):
    """Raise from `run` (after saving a checkpoint) to hand the job back: it runs again, from its checkpoint,
    on another node. Meant for a job that saw `ctx.stop_requested()`; it counts as a preemption."""


class JobCannotSucceed(Exception):
    """Raise from `run` when trying again cannot help (the user it names does not exist, say): the job goes
    to the dead-letter queue at once, with this message, instead of using up its attempts."""


class SchedulerSource(Hashable, Protocol):
    """Opens the head's job store from a worker process; hashable so each worker opens it only once."""

    def open_scheduler(self) -> Scheduler: ...


_OPEN: dict[SchedulerSource, Scheduler] = {}


def scheduler_for(source: SchedulerSource) -> Scheduler:
    if source not in _OPEN:
        _OPEN[source] = source.open_scheduler()
    return _OPEN[source]


class DrainNotice:
    """Whether the node this process runs on is being drained (a spot interruption notice, a scale-down).

    Ray pushes nothing to tasks; it lists draining nodes in its state (a private API in Ray 2.60, verified
    in ../shared/notes/ray-spot-locally.md §2), so this polls it at most every NOTICE_POLL_S.
    """

    def __init__(self) -> None:
        self._checked_at = 0.0
        self._draining = False

    def draining(self) -> bool:
        now = time.monotonic()
        if not self._draining and now - self._checked_at >= NOTICE_POLL_S:
            self._checked_at = now
            self._draining = _node_is_draining()
        return self._draining


def _node_is_draining() -> bool:
    try:
        import ray
        from ray._private.state import state

        return ray.get_runtime_context().get_node_id() in state.get_draining_nodes()
    except Exception:  # a private API: if it moves, jobs simply get no early notice
        return False


class TaskContext:
    """The `ctx` of a job run by the dispatcher: its job, its checkpoint, and ways to report back."""

    def __init__(self, lease: Lease, source: SchedulerSource | None, notice: DrainNotice) -> None:
        self._lease = lease
        self._source = source
        self._notice = notice
        self.job: Job = lease.job
        self.checkpoint: JSONValue | None = lease.job.checkpoint

    def save_checkpoint(self, value: JSONValue) -> None:
        """Keep `value` with the job, so a retry after a failure or preemption starts from it."""
        self._scheduler().save_checkpoint(self._lease, value)
        self.checkpoint = value

    def report_progress(self, value: JSONValue) -> None:
        """Small JSON (e.g. {"done": 40, "total": 500}); `ebbflow jobs show` prints the latest."""
        self._scheduler().save_progress(self._lease, value)

    def stop_requested(self) -> bool:
        """True once this node is being drained: save a checkpoint and raise JobInterrupted."""
        return self._notice.draining()

    def scheduler(self) -> Scheduler:
        """The head's job store, for a job that queues more jobs (a scheduled planner)."""
        return self._scheduler()

    def _scheduler(self) -> Scheduler:
        if self._source is None:
            raise RuntimeError("this job runs without a store: checkpoints and progress are not available")
        return scheduler_for(self._source)
