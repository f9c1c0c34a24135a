"""ebbflow's scheduler: a durable multi-level feedback queue (see docs/scheduler.md)."""

from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.clock import Clock, FakeClock, StoreClock, SystemClock
from scheduler.config import ClassConfig, LevelConfig, SchedulerConfig
from scheduler.cron import CronRunner, CronSchedule
from scheduler.errors import (
    ConfigError,
    InvalidJobError,
    JobNotFoundError,
    PayloadError,
    SchedulerError,
    StaleLeaseError,
    StoreUnavailableError,
    UnknownClassError,
    UnknownJobTypeError,
)
from scheduler.job import Job, JobState, Lease, LeaseInfo, LeaseRef, NewJob, SubmitResult
from scheduler.queue import MaintenanceReport, Scheduler
from scheduler.redis_store import RedisStore
from scheduler.registry import JobType, JobTypeRegistry
from scheduler.sqlite_store import SQLiteStore
from scheduler.store import ArrivalBucket, JobStore, QueueStats

__all__ = [
    "BUILTIN_TYPES",
    "ArrivalBucket",
    "ClassConfig",
    "Clock",
    "ConfigError",
    "CronRunner",
    "CronSchedule",
    "FakeClock",
    "InvalidJobError",
    "Job",
    "JobNotFoundError",
    "JobState",
    "JobStore",
    "JobType",
    "JobTypeRegistry",
    "Lease",
    "LeaseInfo",
    "LeaseRef",
    "LevelConfig",
    "MaintenanceReport",
    "NewJob",
    "PayloadError",
    "QueueStats",
    "RedisStore",
    "SQLiteStore",
    "Scheduler",
    "SchedulerConfig",
    "SchedulerError",
    "StaleLeaseError",
    "StoreClock",
    "StoreUnavailableError",
    "SubmitResult",
    "SystemClock",
    "UnknownClassError",
    "UnknownJobTypeError",
]
