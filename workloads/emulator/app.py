"""The emulator's aiohttp application: Graph, X, the video site and its search API on one port, behind one rate
limiter.

One middleware does what the three real APIs do before any handler runs: find the API family from the path,
demand a token where the real API would (Graph, X), refuse a revoked one, charge the caller's window (a Graph
batch costs one unit per item) and turn the caller away when it is spent. How each of those answers looks
(status, error body, which rate headers and whether a Retry-After) is the family's own: each family module
(graph, x, video) implements `FamilyRules`, written from that API's documentation, so adapters are exercised
on answers shaped as the real ones are.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from workloads.emulator import graph, video, x, x_search, youtube
from workloads.emulator.faults import FaultPlan, Faults, spoil
from workloads.emulator.ratelimit import Family, Limiter, RateLimits, Verdict
from workloads.emulator.state import STATE, EmulatorState, PageWeight
from workloads.world import World

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_GRAPH_VERSION = r"{version:v\d+\.\d+}"


def make_app(
    world: World,
    limits: RateLimits | None = None,
    clock: Callable[[], float] = time.time,
    faults: Faults | None = None,
    revoked_tokens: frozenset[str] = frozenset(),
    page_weight: PageWeight = "realistic",
) -> web.Application:
    """The application serving `world`; `clock` (epoch seconds) decides which posts exist yet and rate windows;
    `faults` spoils a share of the answers (workloads.emulator.faults); `revoked_tokens` are tokens and API keys
    the APIs refuse as expired or invalid; `page_weight` makes watch pages as heavy as real ones or light."""
    app = web.Application(middlewares=[_gatekeeper])
    plan = FaultPlan(faults) if faults is not None and faults.rate > 0 else None
    limiter = Limiter(limits if limits is not None else RateLimits(), clock)
    app[STATE] = EmulatorState(world, limiter, clock, plan, revoked_tokens, page_weight)
    app.router.add_get(f"/{_GRAPH_VERSION}/{{user}}/friends", graph.handle_friends)
    app.router.add_get(f"/{_GRAPH_VERSION}/{{user}}/feed", graph.handle_feed)
    app.router.add_post(f"/{_GRAPH_VERSION}/", graph.handle_batch)
    app.router.add_post(f"/{_GRAPH_VERSION}", graph.handle_batch)
    app.router.add_get("/2/users/{user}/following", x.handle_following)
    app.router.add_get("/2/users/{user}/tweets", x.handle_timeline)
    app.router.add_get("/2/tweets/search/recent", x_search.handle_search)
    app.router.add_get("/2/trends/by/woeid/{woeid}", x.handle_trends_v2)
    app.router.add_get("/1.1/trends/place.json", x.handle_trends)
    app.router.add_get("/oembed", video.handle_oembed)
    app.router.add_get("/watch", video.handle_watch)
    app.router.add_get("/youtube/v3/search", youtube.handle_search)
    app.router.add_get("/healthz", _healthz)
    return app


def family_of(path: str) -> Family | None:
    """Which API a path belongs to (None for /healthz and unknown paths)."""
    if path.startswith(("/watch", "/oembed", "/youtube/")):
        return "video"
    if path.startswith(("/2/", "/1.1/")):
        return "x"
    if path.startswith("/v") and path[2:3].isdigit():
        return "graph"
    return None


class FamilyRules(Protocol):
    """How one API family answers before its handlers run; each family module implements it."""

    def unauthorized(self, path: str) -> web.Response:
        """The answer to a request that carries no token."""
        ...

    def token_refused(self, path: str) -> web.Response:
        """The answer to a request whose token (or API key) was revoked or never valid."""
        ...

    def throttled(self, path: str, verdict: Verdict) -> web.Response:
        """The answer to a request the rate limiter turned away."""
        ...

    def rate_headers(self, path: str, verdict: Verdict) -> dict[str, str]:
        """Headers the API adds to an answer (allowed or not) about the caller's usage."""
        ...


def rules_of(family: Family) -> FamilyRules:
    rules: dict[Family, FamilyRules] = {"graph": graph, "x": x, "video": video}
    return rules[family]


@web.middleware
async def _gatekeeper(request: web.Request, handler: Handler) -> web.StreamResponse:
    family = family_of(request.path)
    if family is None:
        return await handler(request)
    rules = rules_of(family)
    state = request.app[STATE]
    token = await _token(request, family)
    if family != "video" and not token:
        return rules.unauthorized(request.path)
    if token is not None and token in state.revoked_tokens:
        return rules.token_refused(request.path)
    units = await _units(request, family)
    verdict = state.limiter.take(family, token or request.remote or "?", units)
    if not verdict.allowed:
        response: web.StreamResponse = rules.throttled(request.path, verdict)
    else:
        response = await handler(request)
        plan = state.faults
        fault = plan.next_fault() if plan is not None else None
        if plan is not None and fault is not None:
            response = await spoil(fault, plan, response)
    response.headers.update(rules.rate_headers(request.path, verdict))
    return response


async def _token(request: web.Request, family: Family) -> str | None:
    """The caller's token: Authorization "Bearer"/"OAuth", or Graph's access_token parameter (query or form)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    if family == "video":  # Data API callers are known by their key (header or parameter), page viewers by address
        return request.headers.get(youtube.KEY_HEADER) or request.query.get("key")
    if family != "graph":
        return None
    if "access_token" in request.query:
        return request.query["access_token"]
    if request.method == "POST":
        token = (await request.post()).get("access_token")
        return token if isinstance(token, str) else None
    return None


async def _units(request: web.Request, family: Family) -> int:
    if family != "graph" or request.method != "POST":
        return 1
    raw = (await request.post()).get("batch")
    batch = graph.parse_batch_field(raw if isinstance(raw, str) else None)
    return max(1, len(batch)) if isinstance(batch, list) else 1


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})
