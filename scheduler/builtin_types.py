"""Built-in job types for smoke tests and benchmarks: `noop` does nothing, `sleep` waits."""

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
BUILTIN_TYPES = (NOOP, SLEEP)
