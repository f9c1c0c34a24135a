"""Job types: what may be submitted, with the schema its payload must meet.

Packs add their types through the `ebbflow.job_types` entry point group: each entry point names an
iterable of JobType. The scheduler refuses a submit whose type is not registered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal

import jsonschema

from scheduler.errors import PayloadError, UnknownJobTypeError
from scheduler.job import JSONValue

TYPE_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
ENTRY_POINT_GROUP = "ebbflow.job_types"

Runner = Callable[[JSONValue, Any], JSONValue]
"""run(payload, context) -> result; the dispatcher calls it, the scheduler only stores the job."""

CostEstimate = Callable[[JSONValue], float]
"""payload -> expected work-seconds of one job (an HD video is not a thumbnail)."""

MarketRule = Literal["spot", "on-demand", "any"]
"""Where a type's jobs may run: only spot, only on-demand, or either. None (the default) follows the
dispatcher's rule: the top level may use either market, every other level uses spot."""
MARKET_RULES: tuple[MarketRule, ...] = ("spot", "on-demand", "any")


@dataclass(frozen=True)
class JobType:
    name: str
    payload_schema: Mapping[str, Any] | None = None  # JSON Schema; None accepts any JSON value
    default_class: str | None = None
    max_attempts: int | None = None  # None: the scheduler's default
    expected_run_s: float = 1.0  # used by deadline promotion until history knows better
    run: Runner | None = None
    description: str = ""
    # What the dispatcher and the autoscaler need; the scheduler itself ignores these.
    markets: MarketRule | None = None
    estimate_s: CostEstimate | None = None  # per-payload work-seconds; None: expected_run_s for every job
    max_concurrency: int | None = None  # running jobs of this type at once, in all pools
    max_spot_concurrency: int | None = None  # running jobs of this type at once on spot (the crawl's cap)
    time_limit_s: float | None = None  # a run longer than this is stopped and counted as a failed attempt
    # how often a run saves a checkpoint (seconds of work); a reclaimed run loses at most this much. None: it
    # does not, and a reclaim loses the whole run. The autoscaler reads it to judge what spot can deliver.
    checkpoint_every_s: float | None = None
    elastic: bool = False  # more work for a set cost: runs only on budget the rest leaves (autoscaler)
    _validator: Any = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if not TYPE_NAME.fullmatch(self.name):
            raise ValueError(f"job type name {self.name!r} must match {TYPE_NAME.pattern}")
        if self.payload_schema is not None:
            schema = dict(self.payload_schema)
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            object.__setattr__(self, "_validator", cls(schema))
        self._check_dispatch_fields()

    def _check_dispatch_fields(self) -> None:
        if self.markets is not None and self.markets not in MARKET_RULES:
            raise ValueError(f"job type {self.name!r}: markets must be one of {MARKET_RULES} or None")
        for name in ("max_concurrency", "max_spot_concurrency"):
            cap = getattr(self, name)
            if cap is not None and (not isinstance(cap, int) or cap < 0):
                raise ValueError(f"job type {self.name!r}: {name} must be an int >= 0 or None, got {cap!r}")
        if self.time_limit_s is not None and not self.time_limit_s > 0:
            raise ValueError(f"job type {self.name!r}: time_limit_s must be > 0 or None")
        if self.checkpoint_every_s is not None and not self.checkpoint_every_s > 0:
            raise ValueError(f"job type {self.name!r}: checkpoint_every_s must be > 0 or None")
        if not self.expected_run_s > 0:
            raise ValueError(f"job type {self.name!r}: expected_run_s must be > 0")

    def cost_s(self, payload: JSONValue) -> float:
        """Expected work-seconds of one job with this payload; a broken estimator falls back to the default."""
        if self.estimate_s is None:
            return self.expected_run_s
        try:
            estimate = float(self.estimate_s(payload))
        except Exception:  # a pack's estimator runs on every submit: a bug in it must not refuse the job
            return self.expected_run_s
        return estimate if estimate > 0 else self.expected_run_s

    def check_payload(self, payload: JSONValue) -> None:
        if self._validator is None:
            return
        error = jsonschema.exceptions.best_match(self._validator.iter_errors(payload))
        if error is not None:
            where = "payload" + "".join(f"[{part!r}]" for part in error.absolute_path)
            raise PayloadError(where, f"{error.message} (schema of job type {self.name!r})")


class JobTypeRegistry:
    def __init__(self, types: Iterable[JobType] = ()) -> None:
        self._types: dict[str, JobType] = {}
        for job_type in types:
            self.register(job_type)

    def register(self, job_type: JobType) -> None:
        self._types[job_type.name] = job_type

    def get(self, name: str) -> JobType:
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self._types)) or "none"
            raise UnknownJobTypeError("type", f"{name!r} is not a registered job type (registered: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._types)

    def why_not_runnable(self, job_type: str, payload: JSONValue) -> str | None:
        """Why a leased job cannot run here, or None. A queue entry is read back from a shared store that
        others may write around the submit API, so its type must be a registered one with a run function
        (nothing is imported for a name) and its payload must still pass the type's schema."""
        spec = self._types.get(job_type)
        if spec is None or spec.run is None:
            known = ", ".join(name for name in self.names() if self._types[name].run is not None) or "none"
            return f"job type {job_type!r} cannot run here: not registered, or no run function (runnable: {known})"
        try:
            spec.check_payload(payload)
        except PayloadError as err:
            return f"the stored payload fails its type's schema, so it was not written by a submit: {err}"
        return None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    @classmethod
    def from_entry_points(cls) -> JobTypeRegistry:
        """Every type that installed packages declare under the `ebbflow.job_types` group."""
        registry = cls()
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            for job_type in entry_point.load():
                registry.register(job_type)
        return registry
