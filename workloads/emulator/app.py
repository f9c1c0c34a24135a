"""The emulator's aiohttp application: Graph, X, the video site and its search API on one port, behind one rate
limiter.

One middleware does what the three real APIs do before any handler runs: find the API family from the path,
demand a token where the real API would (Graph, X), charge the caller's window (a Graph batch costs one unit
per item) and answer 429 with Retry-After and x-rate-limit-* headers when it is spent. Each family answers
those errors in its own shape, so adapters are exercised on the real thing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from workloads.emulator import graph, video, x, x_search, youtube
from workloads.emulator.faults import FaultPlan, Faults, spoil
from workloads.emulator.ratelimit import Family, Limiter, RateLimits
from workloads.emulator.state import STATE, EmulatorState, json_answer
from workloads.world import World

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_GRAPH_VERSION = r"{version:v\d+\.\d+}"


def make_app(
    world: World,
    limits: RateLimits | None = None,
    clock: Callable[[], float] = time.time,
    faults: Faults | None = None,
) -> web.Application:
    """The application serving `world`; `clock` (epoch seconds) decides which posts exist yet and rate windows;
    `faults` spoils a share of the answers (workloads.emulator.faults)."""
    app = web.Application(middlewares=[_gatekeeper])
    plan = FaultPlan(faults) if faults is not None and faults.rate > 0 else None
    app[STATE] = EmulatorState(world, Limiter(limits if limits is not None else RateLimits(), clock), clock, plan)
    app.router.add_get(f"/{_GRAPH_VERSION}/{{user}}/friends", graph.handle_friends)
    app.router.add_get(f"/{_GRAPH_VERSION}/{{user}}/feed", graph.handle_feed)
    app.router.add_post(f"/{_GRAPH_VERSION}/", graph.handle_batch)
    app.router.add_post(f"/{_GRAPH_VERSION}", graph.handle_batch)
    app.router.add_get("/2/users/{user}/following", x.handle_following)
    app.router.add_get("/2/users/{user}/tweets", x.handle_timeline)
    app.router.add_get("/2/tweets/search/recent", x_search.handle_search)
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


@web.middleware
async def _gatekeeper(request: web.Request, handler: Handler) -> web.StreamResponse:
    family = family_of(request.path)
    if family is None:
        return await handler(request)
    token = await _token(request, family)
    if family != "video" and not token:
        return _unauthorized(family, request.path)
    units = await _units(request, family)
    verdict = request.app[STATE].limiter.take(family, token or request.remote or "?", units)
    if not verdict.allowed:
        response: web.StreamResponse = _too_many(family, request.path)
    else:
        response = await handler(request)
        plan = request.app[STATE].faults
        fault = plan.next_fault() if plan is not None else None
        if plan is not None and fault is not None:
            response = await spoil(fault, plan, response)
    if family != "video" or not verdict.allowed:  # the video site sends no rate headers unless it throttles
        response.headers.update(verdict.headers())
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


def _unauthorized(family: Family, path: str) -> web.Response:
    if family == "graph":
        message = "An active access token must be used to query information about the current user."
        return _json(401, graph.error(401, message, "OAuthException", 2500)[1])
    if path.startswith("/1.1/"):
        return _json(401, {"errors": [{"code": 89, "message": "Invalid or expired token."}]})
    return _json(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})


def _too_many(family: Family, path: str) -> web.Response:
    if family == "graph":
        body = graph.error(429, "(#4) Application request limit reached", "OAuthException", 4, is_transient=True)
        return _json(429, body[1])
    if family == "video":
        if path.startswith("/youtube/"):
            return json_answer(youtube.too_many())
        return web.Response(status=429, text="Too Many Requests")
    if path.startswith("/1.1/"):
        return _json(429, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]})
    return _json(
        429, {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
    )


def _json(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})
