"""Errors raised by the scheduler.

SchedulerError                  root: catch this to catch everything below
├── InvalidJobError             a submission is refused (field named, nothing stored)
│   ├── UnknownJobTypeError     the type is not registered
│   ├── UnknownClassError       the class is not configured
│   └── PayloadError            payload is not JSON, too large, or fails the type's schema
├── StaleLeaseError             ack/fail/heartbeat with a token that no longer holds the lease
├── JobNotFoundError            no job with that id
├── StoreUnavailableError       the store cannot serve now: unreachable, or refusing commands for a while
│                               (Redis BUSY, OOM, LOADING, READONLY...); `reason` names which
└── ConfigError                 the configuration is invalid
"""

from __future__ import annotations


class SchedulerError(Exception):
    """Root of every error the scheduler raises."""


class InvalidJobError(SchedulerError, ValueError):
    """A submission was refused; the message names the field and how to fix it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class UnknownJobTypeError(InvalidJobError):
    """The job type is not registered."""


class UnknownClassError(InvalidJobError):
    """The class is not configured."""


class PayloadError(InvalidJobError):
    """The payload is not valid JSON, is too large, or fails its type's schema."""


class StaleLeaseError(SchedulerError):
    """The lease token no longer holds the job (it expired, or another holder has it now)."""

    def __init__(self, job_id: str, token: int) -> None:
        super().__init__(f"job {job_id}: lease token {token} is stale (the lease expired or moved on)")
        self.job_id = job_id
        self.token = token


class JobNotFoundError(SchedulerError, KeyError):
    """No job with that id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id

    def __str__(self) -> str:
        return f"no job with id {self.job_id!r}"


STORE_OUTAGE_REASONS = ("connection", "busy", "oom", "loading", "readonly", "masterdown", "misconf", "noreplicas")


class StoreUnavailableError(SchedulerError):
    """The job store cannot serve now; callers wait it out (the dispatcher's `store_outage_s`).

    `reason` is one of STORE_OUTAGE_REASONS: "connection" (unreachable, timed out) or the Redis condition that
    refused the command (scheduler.redis_errors), for logs and the `ebbflow_store_outages_total` metric."""

    def __init__(self, message: str, reason: str = "connection") -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[type[StoreUnavailableError], tuple[str, str]]:  # pickled with its reason
        return (type(self), (str(self), self.reason))


class ConfigError(SchedulerError):
    """The configuration is invalid."""
