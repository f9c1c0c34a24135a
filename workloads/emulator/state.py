"""What every handler of the emulator shares: the world, the clock, the rate limiter and the fault plan."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from workloads.emulator.faults import FaultPlan
from workloads.emulator.ratelimit import Limiter
from workloads.world import World

# (HTTP status, JSON body): handlers build these with pure functions, so the Graph batch can reuse them.
Answer = tuple[int, Any]
Query = Mapping[str, str]
# How heavy the emulated watch pages are (workloads.emulator.watch_render): as real ones (170-520 KB), or 1-3 KB.
PageWeight = Literal["realistic", "light"]


@dataclass(frozen=True, slots=True)
class EmulatorState:
    world: World
    limiter: Limiter
    clock: Callable[[], float]
    faults: FaultPlan | None = None  # answers spoiled on purpose (workloads.emulator.faults)
    revoked_tokens: frozenset[str] = frozenset()  # tokens and API keys refused as expired or invalid
    page_weight: PageWeight = "realistic"

    def now_ms(self) -> int:
        return int(self.clock() * 1000)


STATE = web.AppKey("ebbflow_emulator_state", EmulatorState)


def json_answer(answer: Answer) -> web.Response:
    status, body = answer
    return web.json_response(body, status=status)
