"""Scheduler configuration: levels, the classes a submit names, and the queue's limits.

Defaults are the documented constants below; `ebbflow.config` loads them from a file and EBBFLOW_*
environment variables and validates them here.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
_NAME = re.compile(NAME_PATTERN)


class LevelConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    max_wait_s: float | None = Field(
        default=None, gt=0, description="aging: a job waiting longer than this moves up one level"
    )
    allotment_s: float | None = Field(
        default=None, gt=0, description="run-seconds a tenant may use here per demotion window"
    )


class ClassConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    level: str
    deadline_s: float | None = Field(default=None, gt=0, description="default deadline after submit")


DEFAULT_LEVELS = (
    LevelConfig(name="urgent", max_wait_s=None, allotment_s=300),
    LevelConfig(name="daily", max_wait_s=900, allotment_s=1800),
    LevelConfig(name="weekly", max_wait_s=3600, allotment_s=3600),
    LevelConfig(name="background", max_wait_s=6 * 3600, allotment_s=None),
)
DEFAULT_DEAD_LETTER_MAX_AGE_S = 14 * 24 * 3600.0  # two weeks to look at a failure and retry it
DEFAULT_DEAD_LETTER_MAX_COUNT = 100_000  # at 64 KiB of payload and 8 KB of error each, some 7 GB at most
DEFAULT_PROMOTE_MAX_RUN_S = 1800.0  # deadline promotion skips longer jobs (the simulator uses it too)

DEFAULT_CLASSES = {
    "new-signup": ClassConfig(level="urgent", deadline_s=60),
    "daily-active": ClassConfig(level="daily", deadline_s=900),
    "weekly-active": ClassConfig(level="weekly", deadline_s=3600),
    "monthly-active": ClassConfig(level="background", deadline_s=6 * 3600),
    "batch": ClassConfig(level="background", deadline_s=None),
}


class SchedulerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    levels: tuple[LevelConfig, ...] = DEFAULT_LEVELS
    classes: dict[str, ClassConfig] = Field(default_factory=lambda: dict(DEFAULT_CLASSES))
    default_class: str = "batch"
    lease_ttl_s: float = Field(default=30, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    max_preemptions: int = Field(default=10, ge=0)
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=300.0, gt=0)
    max_payload_bytes: int = Field(default=64 * 1024, gt=0)
    max_checkpoint_bytes: int = Field(default=64 * 1024, gt=0)
    demotion_window_s: float = Field(default=600, gt=0)
    # deadline promotion (policy rule 5) skips jobs expected to run longer: at the top level they would
    # hold the urgent headroom (on-demand slots) for that long
    promote_max_run_s: float | None = Field(default=DEFAULT_PROMOTE_MAX_RUN_S, gt=0)
    finished_retention: int = Field(default=10_000, ge=0)
    # dead letters (up to a payload and an error each) are dropped by maintain past either bound, oldest first
    dead_letter_max_age_s: float = Field(
        default=DEFAULT_DEAD_LETTER_MAX_AGE_S,
        gt=0,
        description="dead letters older than this (seconds since they died) are dropped; e.g. 1209600 = 14 days",
    )
    dead_letter_max_count: int = Field(
        default=DEFAULT_DEAD_LETTER_MAX_COUNT,
        ge=1,
        description="at most this many dead letters are kept, the newest; older ones are dropped",
    )

    @model_validator(mode="after")
    def _check_names(self) -> Self:
        names = [level.name for level in self.levels]
        if not names:
            raise ValueError("levels: at least one level is needed")
        if len(set(names)) != len(names):
            raise ValueError(f"levels: names must be unique, got {names}")
        for cls_name, cls in self.classes.items():
            if not _NAME.fullmatch(cls_name):
                raise ValueError(f"classes.{cls_name}: a class name must match {NAME_PATTERN}")
            if cls.level not in names:
                raise ValueError(f"classes.{cls_name}.level: {cls.level!r} is not a level; levels are {names}")
        if self.default_class not in self.classes:
            raise ValueError(f"default_class: {self.default_class!r} is not one of {sorted(self.classes)}")
        return self

    def level_index(self, name: str) -> int:
        for index, level in enumerate(self.levels):
            if level.name == name:
                return index
        raise KeyError(name)

    def level_name(self, index: int) -> str:
        return self.levels[index].name
