"""Cron schedules: submit a job at each tick of a cron expression, exactly once per tick.

Every head may run a CronRunner. Each tick's job carries the key `cron:<name>:<tick ms>` held for
`KEY_HOLD_S` after the job ends, so when two heads (or a restarted one) see the same tick, only the first
submit creates a job; the others get the same job back. Keys are per tenant (the schedule's), and the
`cron:` prefix is reserved: validation refuses it from every submit, and the runner sets its key on the
validated job (`tick_job`), so no user can take a tick's key before the tick comes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from scheduler.errors import InvalidJobError
from scheduler.job import JSONValue, NewJob, SubmitResult
from scheduler.queue import Scheduler
from scheduler.validation import MAX_KEY_TTL_S, RESERVED_KEY_PREFIX

CATCH_UP_S = 3600  # a head that starts late still submits ticks missed in the last hour
KEY_HOLD_S = MAX_KEY_TTL_S  # far longer than the catch-up window: a late head never submits a tick again
log = logging.getLogger(__name__)


class CronSchedule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    cron: str = Field(description="five-field cron expression, UTC, e.g. '0 * * * *'")
    type: str
    payload: Any = None
    job_class: str | None = Field(default=None, alias="class")
    tenant: str = "cron"
    pass_tick: bool = Field(default=False, description="add tick_ms (the tick's time) to an object payload")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a five-field cron expression such as '0 * * * *'")
        try:  # '0 0 31 2 *' parses but never fires; say so now rather than at every tick
            croniter(value, datetime.now(UTC)).get_next(float)
        except (CroniterBadDateError, CroniterBadCronError) as err:
            raise ValueError(f"{value!r} never fires ({err})") from err
        return value

    def ticks(self, after_ms: int, until_ms: int) -> list[int]:
        """Tick times (ms) in (after_ms, until_ms]."""
        it = croniter(self.cron, datetime.fromtimestamp(after_ms / 1000, UTC))
        out: list[int] = []
        while True:
            tick = round(it.get_next(float) * 1000)
            if tick > until_ms:
                return out
            out.append(tick)

    def payload_for(self, tick_ms: int) -> JSONValue:
        if self.pass_tick and isinstance(self.payload, dict):
            return {**self.payload, "tick_ms": tick_ms}
        return self.payload


@dataclass
class CronRunner:
    scheduler: Scheduler
    schedules: Sequence[CronSchedule]
    catch_up_s: float = CATCH_UP_S
    _checked_ms: int | None = field(default=None, init=False)

    def tick(self) -> list[SubmitResult]:
        """Submit every tick that came due since the last call (or within the catch-up window).

        The runner only moves past a tick once the store has it, so a failed submit is tried again on the
        next call; a schedule that cannot be submitted (its type was unregistered since) is logged and
        skipped without holding up the others.
        """
        now = self.scheduler.clock.now_ms()
        since = self._checked_ms if self._checked_ms is not None else now - round(self.catch_up_s * 1000)
        jobs = []
        for schedule in self.schedules:
            try:
                jobs += [self._job(schedule, tick) for tick in schedule.ticks(since, now)]
            except (InvalidJobError, ValueError) as err:  # ValueError: croniter finds no next tick (31 Feb)
                log.error("cron schedule %s cannot submit: %s", schedule.name, err)
        results = self.scheduler.submit_many(jobs) if jobs else []
        self._checked_ms = now
        return results

    def _job(self, schedule: CronSchedule, tick: int) -> NewJob:
        job = self.scheduler.prepare(
            schedule.type,
            schedule.payload_for(tick),
            tenant=schedule.tenant,
            job_class=schedule.job_class,
            key_ttl_s=KEY_HOLD_S,
        )
        return tick_job(job, schedule.name, tick)


def tick_key(name: str, tick_ms: int) -> str:
    return f"{RESERVED_KEY_PREFIX}{name}:{tick_ms}"


def tick_job(job: NewJob, name: str, tick_ms: int) -> NewJob:
    """A validated job keyed as the tick of schedule `name`: the key is set after validation, which refuses
    the reserved prefix from every other submit (HTTP API, CLI, Scheduler.submit)."""
    return replace(job, key=tick_key(name, tick_ms))
