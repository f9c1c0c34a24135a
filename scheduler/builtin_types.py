"""Built-in job types for smoke tests and benchmarks: `noop` does nothing, `sleep` waits, `fail` raises
(to try retries and the dead-letter queue)."""

from __future__ import annotations

import time
from typing import Any

from scheduler.job import JSONValue
from scheduler.registry import JobType


def run_noop(payload: JSONValue, context: Any) -> JSONValue:
    return None


def run_sleep(payload: JSONValue, context: Any) -> JSONValue:
    time.sleep(float(payload["seconds"]))
    return {"slept_s": payload["seconds"]}


class DeliberateFailure(RuntimeError):
    """What the `fail` job type raises."""


def run_fail(payload: JSONValue, context: Any) -> JSONValue:
    message = payload.get("message", "failed on purpose") if isinstance(payload, dict) else "failed on purpose"
    raise DeliberateFailure(message)


NOOP = JobType(
    name="noop",
    payload_schema=None,
    expected_run_s=0.001,
    run=run_noop,
    description="does nothing; measures the queue itself",
)
SLEEP = JobType(
    name="sleep",
    payload_schema={
        "type": "object",
        "properties": {"seconds": {"type": "number", "minimum": 0, "maximum": 3600}},
        "required": ["seconds"],
        "additionalProperties": False,
    },
    expected_run_s=1.0,
    run=run_sleep,
    description="sleeps payload.seconds (0..3600)",
)
FAIL = JobType(
    name="fail",
    payload_schema={
        "type": ["object", "null"],
        "properties": {"message": {"type": "string", "maxLength": 1000}},
        "additionalProperties": False,
    },
    expected_run_s=0.001,
    run=run_fail,
    description="raises with payload.message: try retries, backoff and the dead-letter queue",
)
BUILTIN_TYPES = (NOOP, SLEEP, FAIL)
