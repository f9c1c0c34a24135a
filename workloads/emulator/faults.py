"""Answers spoiled on purpose, so the adapters meet what real APIs sometimes send: a 5xx, a body cut short, a
body of the wrong shape, or an answer that comes too late. Off unless asked for (`ebbflow emulate --fault-rate`,
`EmulatorServer(faults=...)`).

Which answers are spoiled is decided from the seed and the request's number, not from the clock, so a run with
the same requests in the same order meets the same faults. Requests the rate limiter turns away are not spoiled
(they are already a fault the adapters know), and neither is /healthz.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Literal, get_args

from aiohttp import web

from workloads.world.hashing import h64, unit

FaultKind = Literal["error", "truncated", "wrong-shape", "slow"]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
ERROR_STATUSES = (500, 502, 503)
WRONG_PAGE = "<html><body>Something went wrong</body></html>"


@dataclass(frozen=True)
class Faults:
    rate: float = 0.0  # share of answers spoiled, 0..1
    kinds: tuple[FaultKind, ...] = FAULT_KINDS
    slow_s: float = 3.0  # how late a "slow" answer comes (longer than the adapters' timeouts, to test those)
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ValueError(f"fault rate {self.rate} must be within [0, 1]")
        unknown = sorted(set(self.kinds) - set(FAULT_KINDS))
        if unknown or not self.kinds:
            raise ValueError(f"fault kinds {list(self.kinds)} must be some of {', '.join(FAULT_KINDS)}")
        if self.slow_s < 0:
            raise ValueError(f"slow_s {self.slow_s} must not be negative")


@dataclass
class FaultPlan:
    """The faults of one emulator: which request gets which, and how many of each were served."""

    faults: Faults
    served: dict[str, int] = field(default_factory=dict)
    _numbers: itertools.count[int] = field(default_factory=itertools.count)

    def next_fault(self) -> FaultKind | None:
        number = next(self._numbers)
        if self.faults.rate == 0 or unit(self.faults.seed, "fault", number) >= self.faults.rate:
            return None
        kind = self.faults.kinds[h64(self.faults.seed, "fault-kind", number) % len(self.faults.kinds)]
        self.served[kind] = self.served.get(kind, 0) + 1
        return kind


async def spoil(kind: FaultKind, plan: FaultPlan, answer: web.StreamResponse) -> web.StreamResponse:
    """The spoiled version of `answer` (which the handler already built)."""
    if kind == "slow":
        await asyncio.sleep(plan.faults.slow_s)
        return answer
    if kind == "error":
        status = ERROR_STATUSES[sum(plan.served.values()) % len(ERROR_STATUSES)]
        return web.Response(
            status=status, text=json.dumps({"error": "injected fault"}), content_type="application/json"
        )
    body = answer.body if isinstance(answer, web.Response) and isinstance(answer.body, bytes) else b""
    content_type = answer.content_type if isinstance(answer, web.Response) else "application/json"
    if kind == "truncated":
        return web.Response(status=answer.status, body=body[: len(body) // 2], content_type=content_type)
    # wrong-shape: valid JSON (or HTML) that holds none of what was asked for
    if content_type == "text/html":
        return web.Response(
            status=answer.status, text="<html><body>Something went wrong</body></html>", content_type=content_type
        )
    return web.Response(status=answer.status, text=json.dumps(_wrong_shape(body)), content_type="application/json")


def _wrong_shape(body: bytes) -> object:
    """The answer with its lists made strings, its strings numbers and its numbers lists: parseable, of no use."""
    try:
        value = json.loads(body)
    except ValueError:
        return ["unexpected"]

    def twist(item: object) -> object:
        if isinstance(item, dict):
            return {key: twist(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return "unexpected"
        if isinstance(item, str):
            return len(item)
        if isinstance(item, bool) or item is None:
            return item
        return [item]

    return twist(value)
