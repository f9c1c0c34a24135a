"""Job types for the dispatcher's Ray tests. They run on Ray workers (importable there because Ray puts the
driver's working directory on the workers' path) and record what happened in Redis under payload["key"]:

    <key>:runs     hash  job id -> how many times its run started
    <key>:on       hash  job id -> the node its latest run started on
    <key>:effects  hash  job id -> JSON {node, start, end, ...}, written once (HSETNX: an idempotent effect)

Times are epoch seconds (`time.time()`), comparable with a job's deadline_ms / 1000.
"""

from __future__ import annotations

import json
import math
import os
import time
from functools import cache
from typing import Any

import ray
import redis

from dispatcher.context import JobInterrupted
from dispatcher.markets import MARKET_RESOURCE
from scheduler.job import JSONValue
from scheduler.registry import JobType

RECORD_SCHEMA = {
    "type": "object",
    "properties": {"key": {"type": "string"}, "sleep": {"type": "number", "minimum": 0}},
    "required": ["key"],
}


@cache
def _redis() -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)


def _effect(payload: Any, ctx: Any, started: float, **extra: JSONValue) -> None:
    node = ray.get_runtime_context().get_node_id()
    record = {"node": node, "start": started, "end": time.time(), **extra}
    _redis().hsetnx(f"{payload['key']}:effects", ctx.job.id, json.dumps(record))


def _started(payload: Any, ctx: Any) -> float:
    _redis().hincrby(f"{payload['key']}:runs", ctx.job.id, 1)
    _redis().hset(f"{payload['key']}:on", ctx.job.id, ray.get_runtime_context().get_node_id())
    return time.time()


def run_record(payload: Any, ctx: Any) -> None:
    started = _started(payload, ctx)
    time.sleep(payload.get("sleep", 0))
    _effect(payload, ctx, started)


def run_boom(payload: Any, ctx: Any) -> None:
    raise ValueError("boom from the test job")


def run_resume(payload: Any, ctx: Any) -> None:
    """First run: checkpoint, report progress, then kill its own worker process. Second run: resume."""
    started = _started(payload, ctx)
    if ctx.checkpoint is None:
        ctx.save_checkpoint({"step": 1})
        ctx.report_progress({"done": 1, "total": 2})
        os._exit(3)
    ctx.report_progress({"done": 2, "total": 2})
    _effect(payload, ctx, started, resumed_from=ctx.checkpoint["step"])


def run_drainable(payload: Any, ctx: Any) -> None:
    """Works up to payload.sleep seconds unless its node is drained: then checkpoints and hands itself back."""
    started = _started(payload, ctx)
    if ctx.checkpoint is not None:
        _effect(payload, ctx, started, resumed_from=ctx.checkpoint["drained_on"])
        return
    while time.time() - started < payload.get("sleep", 0):
        if ctx.stop_requested():
            ctx.save_checkpoint({"drained_on": ray.get_runtime_context().get_node_id()})
            raise JobInterrupted("node draining")
        time.sleep(0.1)
    _effect(payload, ctx, started)


def run_fenced(payload: Any, ctx: Any) -> None:
    """Works, then saves which run it was as its checkpoint, then records its effect."""
    run = _redis().hincrby(f"{payload['key']}:runs", ctx.job.id, 1)
    started = time.time()
    time.sleep(payload.get("sleep", 0))
    ctx.save_checkpoint({"run": run})  # refused (StaleLeaseError) when this run's lease was taken over
    _effect(payload, ctx, started, run=run)


def _market() -> str | None:
    """The market this task was placed in: the market resource Ray assigned to it (the dispatcher asks for one
    unit of its pool's resource per task)."""
    assigned = ray.get_runtime_context().get_assigned_resources()
    return next((market.value for market, resource in MARKET_RESOURCE.items() if assigned.get(resource)), None)


def run_market(payload: Any, ctx: Any) -> None:
    """Works payload.sleep seconds, then records the market it ran in."""
    started = _started(payload, ctx)
    time.sleep(payload.get("sleep", 0))
    _effect(payload, ctx, started, market=_market())


STEP_S = 0.5


def run_steps(payload: Any, ctx: Any) -> None:
    """Works payload.sleep seconds in steps of STEP_S, saving {"done": steps} after each; a run that starts
    from a checkpoint goes on from there, and one on a draining node stops at the next step (the checkpoint
    kept). Records the market it finished in and the step it resumed from."""
    started = _started(payload, ctx)
    first = ctx.checkpoint["done"] if ctx.checkpoint is not None else 0
    for step in range(first, math.ceil(payload.get("sleep", 0) / STEP_S)):
        if ctx.stop_requested():
            raise JobInterrupted("node draining")
        time.sleep(STEP_S)
        ctx.save_checkpoint({"done": step + 1})
    _effect(payload, ctx, started, market=_market(), resumed_from=first)


REC = JobType("t-rec", RECORD_SCHEMA, expected_run_s=0.3, run=run_record)
REC_SPOT = JobType(
    "t-rec-spot", RECORD_SCHEMA, expected_run_s=0.3, run=run_record, markets="spot", max_spot_concurrency=2
)
REC_ANY = JobType("t-rec-any", RECORD_SCHEMA, expected_run_s=1, run=run_record, markets="any")
REC_OD = JobType("t-rec-od", RECORD_SCHEMA, expected_run_s=0.3, run=run_record, markets="on-demand")
TINY = JobType("t-tiny", RECORD_SCHEMA, expected_run_s=0.001, run=run_record)
HANG = JobType("t-hang", RECORD_SCHEMA, expected_run_s=0.1, run=run_record, time_limit_s=1.0)
BOOM = JobType("t-boom", None, run=run_boom)
RESUME = JobType("t-resume", RECORD_SCHEMA, run=run_resume, markets="any")
DRAINABLE = JobType("t-drainable", RECORD_SCHEMA, expected_run_s=5, run=run_drainable, markets="any")
FENCED = JobType("t-fenced", RECORD_SCHEMA, expected_run_s=1, run=run_fenced)
# no markets rule: the dispatcher's default one
MARKET = JobType("t-market", RECORD_SCHEMA, expected_run_s=2, run=run_market)
STEPS = JobType("t-steps", RECORD_SCHEMA, expected_run_s=8, run=run_steps, checkpoint_every_s=STEP_S)
TYPES = (FENCED, REC, REC_SPOT, REC_ANY, REC_OD, TINY, HANG, BOOM, RESUME, DRAINABLE, MARKET, STEPS)


def effects(key: str) -> dict[str, dict[str, Any]]:
    return {job_id: json.loads(value) for job_id, value in _redis().hgetall(f"{key}:effects").items()}


def runs(key: str) -> dict[str, int]:
    return {job_id: int(n) for job_id, n in _redis().hgetall(f"{key}:runs").items()}


def running_on(key: str, node_id: str) -> list[str]:
    """Jobs whose latest run started on the node and has not recorded its effect yet."""
    done = set(_redis().hkeys(f"{key}:effects"))
    return [job for job, node in _redis().hgetall(f"{key}:on").items() if node == node_id and job not in done]


def latest_node(key: str) -> dict[str, str]:
    """Job id -> the node its latest run started on."""
    return dict(_redis().hgetall(f"{key}:on"))


def forget(key: str) -> None:
    _redis().delete(f"{key}:effects", f"{key}:runs", f"{key}:on")
