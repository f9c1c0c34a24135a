"""What a job is: the validated submission that goes in, and the views of it that come back out.

Times are integer milliseconds since the Unix epoch. A job's stored record is JSON text whose first six
keys are always id, type, tenant, max_attempts, deadline and level in that order: the Redis scripts read
those with one anchored pattern instead of decoding the whole record (and so never re-encode a payload).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

JSONValue = Any
"""A value that came from (or will go to) JSON: dict, list, str, int, float, bool or None."""


class JobState(StrEnum):
    PENDING = "pending"  # queued at a level, ready to lease
    DELAYED = "delayed"  # waiting for its retry backoff to pass
    RUNNING = "running"  # leased by a worker
    DONE = "done"  # acked
    DEAD = "dead"  # in the dead-letter queue


@dataclass(frozen=True, slots=True)
class NewJob:
    """A submission that passed validation; `record()` is what the store keeps."""

    id: str
    type: str
    tenant: str
    job_class: str
    level: int
    payload_json: str
    created_ms: int
    max_attempts: int
    key: str | None = None
    key_ttl_ms: int | None = None  # hold the key this long even after the job ends (cron ticks)
    deadline_ms: int | None = None
    # Estimated work of this job (its type's cost_s of the payload), counted in the store's arrival history
    # and not kept in the record. 0 for a job built without an estimate: it adds no work there.
    estimate_ms: int = 0

    def record(self) -> str:
        # Hand-built because it is on the submit hot path and because the key order is a contract
        # with the Lua scripts (see the module docstring). Every interpolated string was validated
        # against a quote-free pattern, except key, which goes through json.dumps.
        key = "null" if self.key is None else json.dumps(self.key)
        deadline = "null" if self.deadline_ms is None else str(self.deadline_ms)
        return (
            f'{{"id":"{self.id}","type":"{self.type}","tenant":"{self.tenant}",'
            f'"max_attempts":{self.max_attempts},"deadline":{deadline},"level":{self.level},'
            f'"class":"{self.job_class}","key":{key},"created":{self.created_ms},"payload":{self.payload_json}}}'
        )


@dataclass(frozen=True, slots=True)
class LeaseRef:
    """Names one lease: the job and the fencing token it was granted with."""

    job_id: str
    token: int


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    token: int
    worker: str
    leased_ms: int
    expires_ms: int


@dataclass(slots=True)
class Job:
    """A stored job as read back from a store.

    Not frozen, unlike the other value types: a frozen dataclass sets each of these fields through
    object.__setattr__, which made building one cost 4 µs, a fifth of a job's whole lease on Redis.
    Treat it as read-only all the same.
    """

    id: str
    type: str
    tenant: str
    job_class: str
    level: int  # where it is now (moves change it)
    submitted_level: int  # where its class put it
    payload: JSONValue
    key: str | None
    deadline_ms: int | None
    max_attempts: int
    attempts: int  # failed runs so far (expired leases count; preemptions do not)
    preemptions: int
    checkpoint: JSONValue | None
    error: str | None
    created_ms: int
    enqueued_ms: int | None  # when it last entered a level queue (keeps its place across moves)
    state: JobState
    lease: LeaseInfo | None = None
    finished_ms: int | None = None
    progress: JSONValue | None = None  # the last progress report of a run (kept after it ends, until overwritten)

    @classmethod
    def from_record(cls, job_id: str, record: str | None, **state: Any) -> Job:
        """Build a Job from a stored record plus the store's view of its current state.

        Raises UnreadableRecordError when the record is missing, is not JSON, lacks a field or names
        another job: callers decide whether that job is dead-lettered (a lease) or shown as unreadable (a read).
        """
        data = decode_stored(job_id, "record", record)
        # the same test as the Redis scripts' (see the module docstring), so a record unreadable to one
        # store is unreadable to both
        if not record.startswith(f'{{"id":"{job_id}","type":"'):  # type: ignore[union-attr]  # not None here
            raise UnreadableRecordError(job_id, "record", 'it does not start {"id":"<its id>","type":')
        try:
            return cls(
                id=job_id,
                type=data["type"],
                tenant=data["tenant"],
                job_class=data["class"],
                submitted_level=data["level"],
                payload=data["payload"],
                key=data["key"],
                deadline_ms=data["deadline"],
                max_attempts=data["max_attempts"],
                created_ms=data["created"],
                level=state.pop("level", data["level"]),
                **state,
            )
        except (KeyError, TypeError) as err:  # a field is missing, or the record is JSON but not an object
            raise UnreadableRecordError(job_id, "record", f"no field {err}") from None

    @classmethod
    def unreadable(cls, job_id: str, problem: UnreadableRecordError, **state: Any) -> Job:
        """What a read shows for a job whose stored record no longer decodes: its id, where it is, and the
        problem as its error (unless it already carries one, such as the reason it was dead-lettered)."""
        level = state.pop("level", 0)
        error = state.pop("error", None) or str(problem)
        for unknown in ("checkpoint", "progress"):
            state.setdefault(unknown, None)
        return cls(
            id=job_id,
            type=UNREADABLE_TYPE,
            tenant=UNREADABLE_TYPE,
            job_class=UNREADABLE_TYPE,
            level=level,
            submitted_level=level,
            payload=None,
            key=None,
            deadline_ms=None,
            max_attempts=0,
            created_ms=0,
            error=error,
            **{"attempts": 0, "preemptions": 0, "enqueued_ms": None} | state,
        )


DEAD_LETTERED = "dead-lettered so it cannot block the queue"
"""Said after the problem when a lease dead-letters a job whose stored parts do not decode."""

REASON_LOST = "dead-lettered; the reason was lost from the store (its error field was deleted)"
"""The error shown for a dead job whose stored error is gone (docs/store-damage.md): a dead letter always
shows a reason."""

UNREADABLE_TYPE = "?"
"""The type, tenant and class shown for a job whose stored record no longer decodes."""


class UnreadableRecordError(ValueError):
    """A stored part of a job (its record, checkpoint or progress) that no longer decodes: written by a
    hand, a bug or another version. A lease dead-letters such a job, so it cannot block every worker."""

    def __init__(self, job_id: str, part: str, cause: str) -> None:
        super().__init__(f"the stored {part} is unreadable ({cause})")


def readable_record(job_id: str, record: str | None) -> bool:
    """Whether a stored record still decodes into this job (what a lease would check)."""
    try:
        Job.from_record(job_id, record, checkpoint=None, error=None, attempts=0, preemptions=0, **_NO_STATE)
    except UnreadableRecordError:
        return False
    return True


_NO_STATE: dict[str, Any] = {"enqueued_ms": None, "state": JobState.PENDING}


def decode_stored(job_id: str, part: str, text: str | None) -> JSONValue:
    """JSON text kept by a store, decoded; `part` names it in the error when it does not decode."""
    if text is None:
        if part == "record":
            raise UnreadableRecordError(job_id, part, "it is missing")
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise UnreadableRecordError(job_id, part, f"not JSON: {err}") from None


@dataclass(frozen=True, slots=True)
class Lease:
    """A job handed to one worker until `expires_ms`, unless a heartbeat extends it."""

    job: Job
    token: int
    leased_ms: int
    expires_ms: int

    @property
    def ref(self) -> LeaseRef:
        return LeaseRef(self.job.id, self.token)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    job_id: str
    created: bool  # False: an active job (or a held tick key) already had this idempotency key
