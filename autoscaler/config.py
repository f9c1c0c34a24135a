"""Autoscaler settings, with their defaults as documented constants: how much capacity the policy asks
for (decide) and the hard limits it may never cross (guard). `ebbflow.config` loads them from the
`[autoscaler]` table of the config file."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_HORIZONS_S = (60.0, 900.0, 3600.0, 21600.0)  # per level: urgent SLA, then daily, weekly, background


class GuardConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_nodes: int = Field(default=50, ge=0, description="nodes of every type together, draining ones included")
    budget_per_hour: float = Field(default=20.0, ge=0, description="$ per hour for the whole fleet")
    max_launch_per_decision: int = Field(default=10, ge=0)
    max_launch_per_hour: int = Field(default=60, ge=0)
    scale_up_cooldown_s: float = Field(default=60.0, ge=0, description="no launch this soon after a drain")
    scale_down_cooldown_s: float = Field(default=300.0, ge=0, description="no drain this soon after a launch")
    stale_after_s: float = Field(default=180.0, gt=0, description="older queue figures hold every action")
    max_sane_pending: int = Field(default=100_000_000, gt=0, description="more pending jobs is a bad metric")
    max_sane_work_s: float = Field(default=1e10, gt=0, description="more queued work-seconds is a bad metric")


class AutoscalerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    period_s: float = Field(default=60.0, gt=0, description="one observe-decide-guard-act round this often")
    horizons_s: tuple[float, ...] = Field(
        default=DEFAULT_HORIZONS_S, description="per level: queued work should be done within this"
    )
    min_horizon_s: float = Field(default=30.0, gt=0, description="a deadline closer than this counts as this")
    slack_confidence: float = Field(
        default=2.0,
        ge=0,
        description="spare slots per level cover arrivals this many standard deviations above their mean (slack.py)",
    )
    target_slack: float = Field(
        default=0.0, ge=0, description="a flat share asked for on top of every level's need and slack (0: none)"
    )
    drain_margin: float = Field(
        default=0.1, ge=0, description="spot slots kept beyond the need, as a share of it, before draining"
    )
    startup_lag_s: float = Field(default=300.0, ge=0, description="from launch to a node taking work")
    fan_out_s: float = Field(
        default=3600.0,
        gt=0,
        description="queued work due later than this is still sized to be done within it (per-second billing)",
    )
    scheduled_horizon_s: float = Field(default=180.0, gt=0, description="cron work at the top of the hour")
    min_ondemand_nodes: int = Field(default=1, ge=0, description="on-demand nodes always kept (the floor)")
    urgent_blocking: float = Field(
        default=0.01, gt=0, le=1, description="on-demand slots for urgent work: the chance an arrival finds none free"
    )
    spread_types: int = Field(default=2, ge=1, description="launches spread over up to this many node types")
    spread_within: float = Field(
        default=0.05, ge=0, description="only over types within this share of the best price per slot"
    )
    replace_above: float = Field(
        default=0.5, ge=0, description="spot nodes dearer per slot than the best type by more are replaced"
    )
    interruption_penalty: float = Field(
        default=2.0, ge=0, description="price per slot is raised by this times interruptions per node-hour"
    )
    avoid_after_error_s: float = Field(default=900.0, ge=0, description="a type or zone that failed is skipped")
    launch_timeout_s: float = Field(
        default=900.0, gt=0, description="a node still launching after this long: its type has no capacity"
    )
    ondemand_lookahead_s: float = Field(
        default=3600.0,
        gt=0,
        description="while spot cannot take it, work is bought on-demand once it must start within this",
    )
    ondemand_hold_s: float = Field(
        default=600.0,
        ge=0,
        description="on-demand nodes bought for work spot could not make are kept this long after spot is back",
    )
    elastic_levels: tuple[int, ...] = Field(
        default=(), description="levels whose work runs only on budget left over (more work for a set cost)"
    )
    forecast: bool = Field(default=True, description="launch ahead of the season's rises (forecast.py)")
    forecast_rise: float = Field(
        default=0.5, ge=0, description="the forecast counts only when this share above the stream measured now"
    )
    forecast_max_ratio: float = Field(
        default=4.0, ge=1, description="the forecast may raise a level's arrival figure at most this many times"
    )
    hourly_billing: bool = Field(default=False, description="drain nodes near the end of their paid hour first")
    guard: GuardConfig = GuardConfig()

    def horizon_s(self, level: int) -> float:
        return self.horizons_s[min(level, len(self.horizons_s) - 1)]
