"""The fault suite's job type (tests/faults and bench/faults.py): `fault.record` records its effect in a SQLite
file the suite reads, keyed by the job id, so a job that runs twice (its first ack lost with the store, say) has
one effect and two runs on record."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from scheduler.job import JSONValue
from scheduler.registry import JobType

SCHEMA = """
CREATE TABLE IF NOT EXISTS effects (job_id TEXT PRIMARY KEY, first_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (job_id TEXT NOT NULL, at_ms INTEGER NOT NULL);
"""


def open_effects(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(SCHEMA)
    return connection


def run_record(payload: JSONValue, ctx: Any) -> JSONValue:
    assert isinstance(payload, dict)  # the schema says so
    time.sleep(float(payload.get("sleep_s", 0)))
    job_id, now_ms = ctx.job.id, int(time.time() * 1000)
    connection = open_effects(str(payload["effects"]))
    try:
        connection.execute("INSERT INTO runs VALUES (?, ?)", (job_id, now_ms))
        connection.execute("INSERT OR IGNORE INTO effects VALUES (?, ?)", (job_id, now_ms))  # idempotent
    finally:
        connection.close()
    return None


RECORD = JobType(
    name="fault.record",
    payload_schema={
        "type": "object",
        "properties": {
            "effects": {"type": "string"},
            "sleep_s": {"type": "number", "minimum": 0, "maximum": 5},
            "tick_ms": {"type": "integer"},  # when a cron schedule submits it (pass_tick)
        },
        "required": ["effects"],
        "additionalProperties": False,
    },
    expected_run_s=0.05,
    run=run_record,
    description="records its effect once per job id in a SQLite file (the fault suite)",
)
TYPES = [RECORD]
