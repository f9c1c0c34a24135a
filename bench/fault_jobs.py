"""The fault suite's job types (tests/faults and bench/faults*.py).

`fault.record` records its effect in a SQLite file the suite reads. An effect is named by what the job stands
for, not by the job: the payload's `effect` (the submitter's idempotency key) or, for a cron job, its tick.
A job that runs twice (its first ack lost with the store) adds a run but no effect, because the record is
idempotent per (effect, job). Two jobs for one effect (a doubled cron tick, a retried submit that queued a
second job) are two rows under one name: that is what "duplicated effects" counts, so it can fail.

`fault.raise`, `fault.hang` and `fault.exit` misbehave on purpose (raise, outlive their time limit, kill
their worker process); the suite expects each dead-lettered with a reason that says which.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

from scheduler.job import JSONValue
from scheduler.registry import JobType

SCHEMA = """
CREATE TABLE IF NOT EXISTS effects (
    effect TEXT NOT NULL, job_id TEXT NOT NULL, first_ms INTEGER NOT NULL, PRIMARY KEY (effect, job_id)
);
CREATE TABLE IF NOT EXISTS runs (job_id TEXT NOT NULL, at_ms INTEGER NOT NULL);
"""
HANG_LIMIT_S = 2.0  # fault.hang's time limit; it sleeps far past it


def open_effects(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(SCHEMA)
    return connection


def effect_of(payload: dict[str, Any], job_id: str) -> str:
    if "effect" in payload:
        return str(payload["effect"])
    if "tick_ms" in payload:
        return f"tick-{payload['tick_ms']}"
    return f"job-{job_id}"


def run_record(payload: JSONValue, ctx: Any) -> JSONValue:
    assert isinstance(payload, dict)  # the schema says so
    time.sleep(float(payload.get("sleep_s", 0)))
    job_id, now_ms = ctx.job.id, int(time.time() * 1000)
    connection = open_effects(str(payload["effects"]))
    try:
        connection.execute("INSERT INTO runs VALUES (?, ?)", (job_id, now_ms))
        connection.execute(  # idempotent: a second run of this job changes nothing
            "INSERT OR IGNORE INTO effects VALUES (?, ?, ?)", (effect_of(payload, job_id), job_id, now_ms)
        )
    finally:
        connection.close()
    return None


def run_raise(payload: JSONValue, ctx: Any) -> JSONValue:
    raise RuntimeError(f"fault.raise: failing on purpose ({payload})")


def run_hang(payload: JSONValue, ctx: Any) -> JSONValue:
    time.sleep(3600)  # far past its time limit: the dispatcher must stop it
    return None


def run_exit(payload: JSONValue, ctx: Any) -> JSONValue:
    os._exit(3)  # the worker process dies under the job, as a segfault or the OOM killer would do


_ANY_OBJECT: dict[str, Any] = {"type": "object"}

RECORD_TYPE = "fault.record"
RECORD = JobType(
    name=RECORD_TYPE,
    payload_schema={
        "type": "object",
        "properties": {
            "effects": {"type": "string"},
            "effect": {"type": "string"},
            "sleep_s": {"type": "number", "minimum": 0, "maximum": 5},
            "tick_ms": {"type": "integer"},  # when a cron schedule submits it (pass_tick)
        },
        "required": ["effects"],
        "additionalProperties": False,
    },
    expected_run_s=0.05,
    run=run_record,
    description="records its effect once per (effect, job) in a SQLite file (the fault suite)",
)
RAISE = JobType(name="fault.raise", payload_schema=_ANY_OBJECT, run=run_raise, description="always raises")
HANG = JobType(
    name="fault.hang",
    payload_schema=_ANY_OBJECT,
    run=run_hang,
    time_limit_s=HANG_LIMIT_S,
    description="sleeps past its time limit",
)
EXIT = JobType(name="fault.exit", payload_schema=_ANY_OBJECT, run=run_exit, description="kills its worker process")
TYPES = [RECORD, RAISE, HANG, EXIT]
MISBEHAVING = {"fault.raise": "RuntimeError", "fault.hang": "time limit", "fault.exit": "worker process died"}
"""The misbehaving types, and what their dead letter's reason must say."""
