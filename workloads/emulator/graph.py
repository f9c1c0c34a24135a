"""The emulated Facebook Graph API: /{user}/friends, /{user}/feed and the batch endpoint, answering as Graph does
(developers.facebook.com, read 2026-12-08; docs/api-graph.md says what comes from where).

- /{user}/friends lists only the friends who use the app too, with `summary.total_count` counting all of them,
  in cursor pages ({"data", "paging": {"cursors", "next"}}).
- /{user}/feed is served only with the owner's own token (the app's grant from that user); any other token gets
  Graph's permission error. Pages are time-based: `next` carries `until` and `__paging_token`, no cursors.
- Errors are {"error": {"message", "type", "code", "error_subcode"?, "fbtrace_id"}}: an object that does not
  exist (or is not visible) is HTTP 400 code 100 subcode 33, a missing token 400 code 104, a dead one 400 code
  190 subcode 463, throttling 403 code 4 with `X-App-Usage`. Graph sends no Retry-After and no x-rate-limit-*.
- A batch item may carry its own token in its relative_url (the top-level one is the fallback), and fails alone.

Answers are built by pure functions from (world, query, token, now), so a batch item is answered by exactly the
code that answers the same request on its own.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import web

from workloads.emulator.paging import decode_cursor, encode_cursor, int_param, iso_seconds
from workloads.emulator.ratelimit import Verdict
from workloads.emulator.state import STATE, Answer, Query, json_answer
from workloads.world import World, WorldPost
from workloads.world.ids import user_number
from workloads.world.users import graph_app_friends, graph_token_owner, uses_graph_app

BATCH_LIMIT = 50
FRIENDS_MAX_LIMIT = 5000
FEED_MAX_LIMIT = 100
FEED_FIELDS = ("id", "message", "created_time", "link", "from")
DEFAULT_FEED_FIELDS = ("id", "message", "created_time")
APP_USAGE_HEADER = "X-App-Usage"
_RELATIVE = re.compile(r"^/?(?:v\d+\.\d+/)?([^/?]+)/(friends|feed)$")
_TRACE = "AemuLatorTrace"
_WWW_AUTHENTICATE = 'OAuth "Facebook Platform" "{}" "{}"'
_PAGING_PARAMS = ("after", "until", "__paging_token")


def error(status: int, message: str, kind: str, code: int, **extra: Any) -> Answer:
    return status, {"error": {"message": message, "type": kind, "code": code, **extra, "fbtrace_id": _TRACE}}


def unknown_object(object_id: str) -> Answer:
    message = (
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation."
    )
    return error(400, message, "GraphMethodException", 100, error_subcode=33)


def missing_token() -> Answer:
    return error(400, "An access token is required to request this resource.", "OAuthException", 104)


def expired_token() -> Answer:
    return error(400, "Error validating access token: Session has expired.", "OAuthException", 190, error_subcode=463)


def feed_refused(user: str) -> Answer:
    """A feed read without its owner's grant: Graph's permission error (code 10)."""
    message = f"(#10) Reading the feed of {user} requires a token of that user with the user_posts permission"
    return error(403, message, "OAuthException", 10)


def friends_answer(world: World, user: str, query: Query, base: str) -> Answer:
    """GET /{user}/friends?limit=&after= (cursor pages of the friends who use the app; "next" only when more
    remain). Graph wants the user's own token here; the emulator takes any valid one (docs/api-graph.md)."""
    number = user_number(user, world.config.users)
    if number is None:
        return unknown_object(user)
    limit = int_param(query, "limit", 25, 1, FRIENDS_MAX_LIMIT)
    offset = decode_cursor(query["after"]) if "after" in query else 0
    if limit is None or offset is None:
        return error(400, "(#100) Invalid limit or after cursor", "OAuthException", 100)
    listed = graph_app_friends(world.config, number)
    chunk = listed[offset : offset + limit]
    body: dict[str, Any] = {
        "data": [{"name": world.user_name(f), "id": f} for f in chunk],
        "paging": _cursor_paging(offset, offset + len(chunk), len(listed), f"{base}/{user}/friends", query),
        "summary": {"total_count": world.degree(user)},
    }
    return 200, body


def feed_answer(world: World, user: str, query: Query, base: str, now_ms: int, token: str | None) -> Answer:
    """GET /{user}/feed?since=&until=&limit=&fields=&__paging_token= with the owner's token (posts up to now,
    newest first, time-based pages)."""
    number = user_number(user, world.config.users)
    if number is None:
        return unknown_object(user)
    if token is None or graph_token_owner(token) != user or not uses_graph_app(world.config, number):
        return feed_refused(user)
    limit = int_param(query, "limit", 25, 1, FEED_MAX_LIMIT)
    since_s = int_param(query, "since", 0, 0, 10**11)
    until_s = int_param(query, "until", now_ms // 1000, 0, 10**11)
    position = decode_cursor(query["__paging_token"]) if "__paging_token" in query else now_ms + 1
    fields = tuple(query.get("fields", ",".join(DEFAULT_FEED_FIELDS)).split(","))
    if limit is None or since_s is None or until_s is None or position is None or not set(fields) <= set(FEED_FIELDS):
        return error(400, "(#100) Invalid parameter", "OAuthException", 100)
    until_ms = min(now_ms, until_s * 1000 + 999, position - 1)
    posts = list(itertools.islice(world.iter_posts(user, since_s * 1000, until_ms), limit + 1))
    page, more = posts[:limit], len(posts) > limit
    body: dict[str, Any] = {"data": [_post_fields(world, post, fields) for post in page]}
    if page:
        body["paging"] = _time_paging(page, more, f"{base}/{user}/feed", query)
    return 200, body


def batch_answer(
    world: World, batch: Any, base: str, now_ms: int, token: str | None, revoked: frozenset[str]
) -> Answer:
    """POST / with batch=[{"method": "GET", "relative_url": ...}]: one {"code","headers","body"} per item, each
    answered with its own access_token (from its relative_url) or else the batch's."""
    if not isinstance(batch, list) or not all(isinstance(item, dict) for item in batch):
        return error(400, "(#100) The batch parameter must be a JSON array of objects", "OAuthException", 100)
    if len(batch) > BATCH_LIMIT:
        return error(400, f"(#1) Too many requests in batch message. Maximum batch size is {BATCH_LIMIT}",
                     "GraphBatchException", 1)  # fmt: skip
    answers = []
    for item in batch:
        status, body = _batch_item(world, item, base, now_ms, token, revoked)
        headers = [{"name": "Content-Type", "value": "application/json; charset=UTF-8"}]
        challenge = _challenge(body)
        if challenge is not None:
            headers.append({"name": "WWW-Authenticate", "value": challenge})
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
    return _graph_json(friends_answer(state.world, request.match_info["user"], request.query, _base(request)))


async def handle_feed(request: web.Request) -> web.Response:
    state = request.app[STATE]
    user, base = request.match_info["user"], _base(request)
    return _graph_json(feed_answer(state.world, user, request.query, base, state.now_ms(), _token(request)))


async def handle_batch(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = await request.post()
    raw, form_token = form.get("batch"), form.get("access_token")
    batch = parse_batch_field(raw if isinstance(raw, str) else None)
    token = _token(request) or (form_token if isinstance(form_token, str) else None)
    answer = batch_answer(state.world, batch, _base(request), state.now_ms(), token, state.revoked_tokens)
    return json_answer(answer)


def _batch_item(
    world: World, item: dict[str, Any], base: str, now_ms: int, token: str | None, revoked: frozenset[str]
) -> Answer:
    relative = str(item.get("relative_url", ""))
    parts = urlsplit(relative)
    match = _RELATIVE.match(parts.path)
    if str(item.get("method", "GET")).upper() != "GET" or match is None:
        return error(400, f"(#100) Unsupported batch request: {parts.path}", "GraphMethodException", 100)
    user, edge = match.groups()
    query = dict(parse_qsl(parts.query))
    token = query.pop("access_token", None) or token
    if token is None:
        return missing_token()
    if token in revoked:
        return expired_token()
    if edge == "friends":
        return friends_answer(world, user, query, base)
    return feed_answer(world, user, query, base, now_ms, token)


def _cursor_paging(start: int, end: int, total: int, url: str, query: Query) -> dict[str, Any]:
    paging: dict[str, Any] = {"cursors": {"before": encode_cursor(start), "after": encode_cursor(end)}}
    if end < total:
        paging["next"] = f"{url}?{urlencode({**_without_paging(query), 'after': encode_cursor(end)})}"
    return paging


def _time_paging(page: list[WorldPost], more: bool, url: str, query: Query) -> dict[str, Any]:
    """Graph's time-based paging: `previous` with `since`, `next` (when older posts remain) with `until` and an
    opaque `__paging_token` that marks the exact position (several posts may share a second)."""
    kept = _without_paging(query)
    newest, oldest = page[0].created_ms, page[-1].created_ms
    previous = {**kept, "since": str(newest // 1000), "__paging_token": encode_cursor(newest), "__previous": "1"}
    paging: dict[str, Any] = {"previous": f"{url}?{urlencode(previous)}"}
    if more:
        older = {**kept, "until": str(oldest // 1000), "__paging_token": encode_cursor(oldest)}
        paging["next"] = f"{url}?{urlencode(older)}"
    return paging


def _without_paging(query: Query) -> dict[str, str]:
    return {key: value for key, value in query.items() if key not in _PAGING_PARAMS and key != "access_token"}


def _post_fields(world: World, post: WorldPost, fields: tuple[str, ...]) -> dict[str, Any]:
    full: dict[str, Any] = {"id": post.post_id, "message": post.text, "created_time": iso_seconds(post.created_ms)}
    if post.links:
        full["link"] = post.links[0]
    if "from" in fields:
        full["from"] = {"id": post.author_id, "name": world.user_name(post.author_id)}
    return {key: full[key] for key in fields if key in full}


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}/{request.match_info['version']}"


def _token(request: web.Request) -> str | None:
    """The caller's token as Graph takes it: Authorization "Bearer"/"OAuth", or the access_token parameter."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return request.query.get("access_token")


def _graph_json(answer: Answer, headers: dict[str, str] | None = None) -> web.Response:
    """An answer as Graph sends it: an OAuth error also names itself in WWW-Authenticate."""
    status, body = answer
    extra = dict(headers or {})
    challenge = _challenge(body)
    if challenge is not None:
        extra["WWW-Authenticate"] = challenge
    return web.json_response(body, status=status, headers=extra)


def _challenge(body: Any) -> str | None:
    """The WWW-Authenticate value Graph adds to an OAuthException: the token is bad, missing, or lacks a scope."""
    error_body = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error_body, dict) or error_body.get("type") != "OAuthException":
        return None
    kinds = {190: "invalid_token", 10: "insufficient_scope"}
    kind = kinds.get(error_body["code"], "invalid_request")
    return _WWW_AUTHENTICATE.format(kind, error_body["message"])


# How Graph answers before a handler runs (app.FamilyRules).


def unauthorized(path: str) -> web.Response:
    return _graph_json(missing_token())


def token_refused(path: str) -> web.Response:
    return _graph_json(expired_token())


def throttled(path: str, verdict: Verdict) -> web.Response:
    """The caller's calls are over the limit, worded by whose limit it is, as Graph words it: a user's token
    over its user-level limit is code 17, any other token (the app's) code 4 at the app level. X-App-Usage at
    100 percent and no Retry-After either way (rate_headers)."""
    if graph_token_owner(verdict.caller) is not None:
        answer = error(400, "(#17) User request limit reached", "OAuthException", 17, is_transient=True)
    else:
        answer = error(403, "(#4) Application request limit reached", "OAuthException", 4, is_transient=True)
    return _graph_json(answer)


def rate_headers(path: str, verdict: Verdict) -> dict[str, str]:
    """X-App-Usage on every answer: the share of the caller's window used, in percent (the emulator spends no
    CPU worth counting, so its time shares follow the call share)."""
    used = verdict.limit - verdict.remaining
    share = 100 if not verdict.allowed else min(100, math.ceil(100 * used / max(1, verdict.limit)))
    usage = {"call_count": share, "total_cputime": share, "total_time": share}
    return {APP_USAGE_HEADER: json.dumps(usage, separators=(",", ":"))}
