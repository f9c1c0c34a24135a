"""Dispatcher settings, with their defaults as documented constants. `ebbflow.config` loads them from the
`[dispatcher]` table of the config file and EBBFLOW_DISPATCHER__* variables."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DispatcherConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ondemand_floor_slots: int = Field(
        default=1, ge=0, description="on-demand slots kept for the top level (the rest serve types that allow it)"
    )
    prefetch: int = Field(default=2, ge=0, description="jobs leased beyond the free slots, so a slot never waits")
    target_task_s: float = Field(default=0.2, gt=0, description="work one Ray task carries when jobs are batched")
    max_batch: int = Field(default=256, ge=1, description="most jobs in one Ray task")
    poll_s: float = Field(default=0.02, gt=0, description="how often an idle dispatcher looks for new jobs")
    heartbeat_every_s: float | None = Field(
        default=None, gt=0, description="lease heartbeat period; None: a third of the lease TTL"
    )
    hold_s: float = Field(
        default=2.0, gt=0, description="a leased job that finds no slot for this long is given back to the queue"
    )
    defer_s: float = Field(
        default=1.0, ge=0, description="how long a job whose type is at its concurrency cap waits before it returns"
    )
    capacity_refresh_s: float = Field(default=1.0, gt=0, description="how often the pools' sizes are read from Ray")
    drain_timeout_s: float = Field(
        default=30.0, ge=0, description="on SIGTERM, how long running jobs may finish before they are stopped"
    )
    cancel_grace_s: float = Field(
        default=5.0, ge=0, description="after a polite stop (KeyboardInterrupt in the job), wait this long, then kill"
    )
    store_outage_s: float = Field(
        default=120.0,
        ge=0,
        description="a job store that cannot serve (unreachable; Redis BUSY, OOM, LOADING, READONLY...) is waited for "
        "this long, running jobs kept; then it exits",
    )
