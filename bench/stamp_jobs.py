"""A job type for the dispatch benchmark: writes the moment it starts into Redis, so submit-to-start
latency is measured where the job actually runs (a Ray worker), not where it was handed to Ray."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

import redis

from scheduler.registry import JobType


@cache
def _client() -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=6379)


def run_stamp(payload: Any, ctx: Any) -> None:
    _client().hset(payload["key"], ctx.job.id, repr(time.time()))


STAMP = JobType("bench-stamp", {"type": "object", "required": ["key"]}, expected_run_s=0.001, run=run_stamp)
TYPES = (STAMP,)
