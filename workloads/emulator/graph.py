"""The emulated Facebook Graph API: /{user}/friends, /{user}/feed and the batch endpoint.

Answers are built by pure functions from (world, query, now), so a batch item is answered by exactly the code
that answers the same request on its own. Shapes follow Graph: {"data", "paging": {"cursors", "next"}} lists,
ISO times with +0000, {"error": {"message", "type", "code", ...}} errors.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import web

from workloads.emulator.paging import decode_cursor, encode_cursor, int_param, iso_seconds
from workloads.emulator.ratelimit import Verdict
from workloads.emulator.state import STATE, Answer, Query, json_answer
from workloads.world import World, WorldPost

BATCH_LIMIT = 50
FRIENDS_MAX_LIMIT = 5000
FEED_MAX_LIMIT = 100
FEED_FIELDS = ("id", "message", "created_time", "link", "from")
DEFAULT_FEED_FIELDS = ("id", "message", "created_time")
_RELATIVE = re.compile(r"^/?(?:v\d+\.\d+/)?([^/?]+)/(friends|feed)$")
_TRACE = "AemuLatorTrace"


def error(status: int, message: str, kind: str, code: int, **extra: Any) -> Answer:
    return status, {"error": {"message": message, "type": kind, "code": code, **extra, "fbtrace_id": _TRACE}}


def unknown_object(object_id: str) -> Answer:
    message = (
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation."
    )
    return error(404, message, "GraphMethodException", 100, error_subcode=33)


def friends_answer(world: World, user: str, query: Query, base: str) -> Answer:
    """GET /{user}/friends?limit=&after= (offset cursors; "next" only when more remain)."""
    if not world.is_user(user):
        return unknown_object(user)
    limit = int_param(query, "limit", 25, 1, FRIENDS_MAX_LIMIT)
    offset = decode_cursor(query["after"]) if "after" in query else 0
    if limit is None or offset is None:
        return error(400, "(#100) Invalid limit or after cursor", "OAuthException", 100)
    friends = world.friends(user)
    chunk = friends[offset : offset + limit]
    body: dict[str, Any] = {
        "data": [{"name": world.user_name(f), "id": f} for f in chunk],
        "summary": {"total_count": len(friends)},
    }
    body["paging"] = _paging(offset, offset + len(chunk), len(friends), f"{base}/{user}/friends", query)
    return 200, body


def feed_answer(world: World, user: str, query: Query, base: str, now_ms: int) -> Answer:
    """GET /{user}/feed?since=&until=&limit=&after=&fields= (posts up to now, newest first)."""
    if not world.is_user(user):
        return unknown_object(user)
    limit = int_param(query, "limit", 25, 1, FEED_MAX_LIMIT)
    since_s = int_param(query, "since", 0, 0, 10**11)
    until_s = int_param(query, "until", now_ms // 1000, 0, 10**11)
    after_ms = decode_cursor(query["after"]) if "after" in query else now_ms
    fields = tuple(query.get("fields", ",".join(DEFAULT_FEED_FIELDS)).split(","))
    if limit is None or since_s is None or until_s is None or after_ms is None or not set(fields) <= set(FEED_FIELDS):
        return error(400, "(#100) Invalid parameter", "OAuthException", 100)
    until_ms = min(now_ms, until_s * 1000 + 999, after_ms - 1 if "after" in query else now_ms)
    posts = list(itertools.islice(world.iter_posts(user, since_s * 1000, until_ms), limit + 1))
    page, more = posts[:limit], len(posts) > limit
    data = [_post_fields(world, post, fields) for post in page]
    body: dict[str, Any] = {"data": data}
    if page:
        cursors = {"before": encode_cursor(page[0].created_ms + 1), "after": encode_cursor(page[-1].created_ms)}
        body["paging"] = {"cursors": cursors}
        if more:
            params = {**query, "after": cursors["after"]}
            body["paging"]["next"] = f"{base}/{user}/feed?{urlencode(params)}"
    return 200, body


def batch_answer(world: World, batch: Any, base: str, now_ms: int) -> Answer:
    """POST / with batch=[{"method": "GET", "relative_url": ...}]: one {"code","headers","body"} per item."""
    if not isinstance(batch, list) or not all(isinstance(item, dict) for item in batch):
        return error(400, "(#100) The batch parameter must be a JSON array of objects", "OAuthException", 100)
    if len(batch) > BATCH_LIMIT:
        return error(400, f"(#1) Too many requests in batch message. Maximum batch size is {BATCH_LIMIT}",
                     "GraphBatchException", 1)  # fmt: skip
    answers = []
    for item in batch:
        status, body = _batch_item(world, item, base, now_ms)
        headers = [{"name": "Content-Type", "value": "application/json; charset=UTF-8"}]
        answers.append({"code": status, "headers": headers, "body": json.dumps(body)})
    return 200, answers


def parse_batch_field(raw: str | None) -> Any:
    """The decoded batch form field, or None when it is missing or not JSON."""
    try:
        return json.loads(raw) if raw is not None else None
    except ValueError:
        return None


async def handle_friends(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return json_answer(friends_answer(state.world, request.match_info["user"], request.query, _base(request)))


async def handle_feed(request: web.Request) -> web.Response:
    state = request.app[STATE]
    answer = feed_answer(state.world, request.match_info["user"], request.query, _base(request), state.now_ms())
    return json_answer(answer)


async def handle_batch(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = await request.post()
    raw = form.get("batch")
    batch = parse_batch_field(raw if isinstance(raw, str) else None)
    return json_answer(batch_answer(state.world, batch, _base(request), state.now_ms()))


def _batch_item(world: World, item: dict[str, Any], base: str, now_ms: int) -> Answer:
    relative = str(item.get("relative_url", ""))
    parts = urlsplit(relative)
    match = _RELATIVE.match(parts.path)
    if str(item.get("method", "GET")).upper() != "GET" or match is None:
        return error(400, f"(#100) Unsupported batch request: {relative}", "GraphMethodException", 100)
    user, edge = match.groups()
    query = dict(parse_qsl(parts.query))
    if edge == "friends":
        return friends_answer(world, user, query, base)
    return feed_answer(world, user, query, base, now_ms)


def _paging(start: int, end: int, total: int, url: str, query: Query) -> dict[str, Any]:
    paging: dict[str, Any] = {"cursors": {"before": encode_cursor(start), "after": encode_cursor(end)}}
    if end < total:
        paging["next"] = f"{url}?{urlencode({**query, 'after': encode_cursor(end)})}"
    return paging


def _post_fields(world: World, post: WorldPost, fields: tuple[str, ...]) -> dict[str, Any]:
    full: dict[str, Any] = {"id": post.post_id, "message": post.text, "created_time": iso_seconds(post.created_ms)}
    if post.links:
        full["link"] = post.links[0]
    if "from" in fields:
        full["from"] = {"id": post.author_id, "name": world.user_name(post.author_id)}
    return {key: full[key] for key in fields if key in full}


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}/{request.match_info['version']}"


# How Graph answers before a handler runs (app.FamilyRules).


def unauthorized(path: str) -> web.Response:
    message = "An active access token must be used to query information about the current user."
    return web.json_response(error(401, message, "OAuthException", 2500)[1], status=401)


def token_refused(path: str) -> web.Response:
    return web.json_response(error(401, "Invalid OAuth access token.", "OAuthException", 190)[1], status=401)


def throttled(path: str, verdict: Verdict) -> web.Response:
    body = error(429, "(#4) Application request limit reached", "OAuthException", 4, is_transient=True)[1]
    return web.json_response(body, status=429)


def rate_headers(path: str, verdict: Verdict) -> dict[str, str]:
    return verdict.headers()
