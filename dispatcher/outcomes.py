"""What a failed Ray task means for its jobs (../shared/notes/ray-spot-locally.md §2 says what Ray raises when).

* preempted: the node, its raylet or the object holding the result went away (a spot VM vanished). Not the
  jobs' fault: they are released at once and counted as preemptions.
* crashed: the worker process died while its node lived (a job called os._exit, or the memory monitor
  killed it). One job alone is failed; a batch is released and its type runs unbatched for a while.
* cancelled: the dispatcher stopped the task itself (time limit, drain); it knows why.
* failed: anything else, e.g. the task could not start its runtime environment: an ordinary failed attempt.
"""

from __future__ import annotations

from typing import Literal

from ray import exceptions as rx

Verdict = Literal["preempted", "crashed", "cancelled", "failed"]

PREEMPTION_ERRORS: tuple[type[BaseException], ...] = (
    rx.NodeDiedError,
    rx.LocalRayletDiedError,
    rx.TaskUnschedulableError,
    rx.RayActorError,
    rx.ObjectLostError,  # includes OwnerDiedError
)
CRASH_ERRORS: tuple[type[BaseException], ...] = (rx.WorkerCrashedError, rx.OutOfMemoryError)


def classify(error: BaseException) -> Verdict:
    if isinstance(error, rx.TaskCancelledError):
        return "cancelled"
    if isinstance(error, PREEMPTION_ERRORS):
        return "preempted"
    if isinstance(error, CRASH_ERRORS):
        return "crashed"
    return "failed"


def describe(error: BaseException) -> str:
    """A one-line reason for the job's record: the Ray error's class and the first line of its message."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first}"[:500]
