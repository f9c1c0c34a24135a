"""Errors raised by the scheduler.

SchedulerError                  root: catch this to catch everything below
├── InvalidJobError             a submission is refused (field named, nothing stored)
│   ├── UnknownJobTypeError     the type is not registered
│   ├── UnknownClassError       the class is not configured
│   └── PayloadError            payload is not JSON, too large, or fails the type's schema
├── StaleLeaseError             ack/fail/heartbeat with a token that no longer holds the lease
├── JobNotFoundError            no job with that id
├── StoreUnavailableError       the store (Redis, SQLite file) cannot be reached
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


class StoreUnavailableError(SchedulerError):
    """The job store cannot be reached."""


class ConfigError(SchedulerError):
    """The configuration is invalid."""
