"""Turns what a caller asks to submit into a NewJob, or refuses it naming the field and the fix."""

from __future__ import annotations

import math
import re
from typing import TypedDict

from scheduler.config import SchedulerConfig
from scheduler.errors import InvalidJobError, UnknownClassError
from scheduler.ids import new_job_id
from scheduler.job import JSONValue, NewJob
from scheduler.payload import encode
from scheduler.registry import JobTypeRegistry

TENANT = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
MAX_KEY_CHARS = 256
# Idempotency keys are per tenant (the stores look a key up with the submitting tenant), and within every
# tenant the keys starting with RESERVED_KEY_PREFIX belong to the cron runner: it sets its tick keys after
# validation (scheduler.cron), so no submit that passes through here can hold back a tick.
RESERVED_KEY_PREFIX = "cron:"
# The longest key_ttl_s (a key's hold, counted from its submit, that outlasts its job): a week covers the cron
# runner's hold and any daily or weekly report; a longer hold is a key that outlives its meaning, and it would
# pin store memory for as long. docs/idempotency.md says what to do instead.
MAX_KEY_TTL_S = 7 * 24 * 3600
MAX_ESTIMATE_MS = 365 * 24 * 3_600_000  # a year: an estimator's wild answer must not overflow the stores' sums


class SubmitOptions(TypedDict, total=False):
    """What a submit may set besides type, payload and tenant (see SubmissionValidator.new_job)."""

    job_class: str | None  # None: the type's default class, else the configured default
    key: str | None  # idempotency key
    key_ttl_s: float | None  # hold the key this long even after the job ends (at most MAX_KEY_TTL_S)
    deadline_s: float | None  # None: the class's default deadline
    max_attempts: int | None  # None: the type's, else the configured default


class SubmissionValidator:
    def __init__(self, config: SchedulerConfig, registry: JobTypeRegistry) -> None:
        self.config = config
        self.registry = registry
        self._class_levels = {name: config.level_index(c.level) for name, c in config.classes.items()}

    def new_job(
        self,
        job_type: str,
        payload: JSONValue,
        *,
        tenant: str,
        now_ms: int,
        job_class: str | None = None,
        key: str | None = None,
        key_ttl_s: float | None = None,
        deadline_s: float | None = None,
        max_attempts: int | None = None,
    ) -> NewJob:
        spec = self.registry.get(job_type)
        if not isinstance(tenant, str) or not TENANT.fullmatch(tenant):
            raise InvalidJobError("tenant", f"{tenant!r} must be 1-128 letters, digits or _ . : @ -")
        class_name = job_class or spec.default_class or self.config.default_class
        level = self._class_levels.get(class_name)
        if level is None:
            known = ", ".join(sorted(self._class_levels))
            raise UnknownClassError("class", f"{class_name!r} is not a configured class (classes: {known})")
        payload_json = encode(payload, "payload", self.config.max_payload_bytes)
        spec.check_payload(payload)
        return NewJob(
            id=new_job_id(),
            type=job_type,
            tenant=tenant,
            job_class=class_name,
            level=level,
            payload_json=payload_json,
            created_ms=now_ms,
            max_attempts=self._max_attempts(max_attempts, spec.max_attempts),
            key=_check_key(key),
            key_ttl_ms=_key_ttl_ms(key_ttl_s),
            deadline_ms=self._deadline(class_name, deadline_s, now_ms),
            estimate_ms=round(min(spec.cost_s(payload) * 1000, MAX_ESTIMATE_MS)),
        )

    def _max_attempts(self, asked: int | None, type_default: int | None) -> int:
        value = asked if asked is not None else type_default if type_default is not None else self.config.max_attempts
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidJobError("max_attempts", f"{value!r} must be a whole number of at least 1")
        return value

    def _deadline(self, class_name: str, deadline_s: float | None, now_ms: int) -> int | None:
        if deadline_s is None:
            deadline_s = self.config.classes[class_name].deadline_s
            if deadline_s is None:
                return None
        return now_ms + _positive_ms("deadline", deadline_s)


def _positive_ms(field: str, seconds: float) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds <= 0:
        raise InvalidJobError(field, f"{seconds!r} must be a positive number of seconds (e.g. 30 or 1.5)")
    return round(seconds * 1000)


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
        raise InvalidJobError("key", f"must be a non-empty string of at most {MAX_KEY_CHARS} characters")
    if key.startswith(RESERVED_KEY_PREFIX):
        raise InvalidJobError(
            "key",
            f"{key[:40]!r} starts with {RESERVED_KEY_PREFIX!r}, which is reserved for the cron runner's ticks;"
            f" choose a key that does not start with {RESERVED_KEY_PREFIX!r}",
        )
    return key


def _key_ttl_ms(seconds: float | None) -> int | None:
    if seconds is None:
        return None
    ms = _positive_ms("key_ttl", seconds)
    if ms > MAX_KEY_TTL_S * 1000:
        raise InvalidJobError(
            "key_ttl",
            f"{seconds!r} s is above the maximum of {MAX_KEY_TTL_S} s (7 days); hold the key at most that long,"
            " or put the period in the key itself (e.g. 'report:2026-12') so it never needs a longer hold",
        )
    return ms
