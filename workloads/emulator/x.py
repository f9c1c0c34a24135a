"""The emulated X API: v2 following, user timelines and recent search, and v1.1 trends/place.

Shapes follow X: v2 lists are {"data": [...], "meta": {"result_count", "next_token", "newest_id", "oldest_id"}}
with "data" left out when empty; tweet text carries t.co links and entities.urls the expanded ones; errors are
{"errors": [...], "title", "detail", "type"}. v1.1 trends are [{"trends", "as_of", "created_at", "locations"}].
Recent search lives in x_search.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from workloads.emulator.paging import decode_cursor, encode_cursor, int_param, iso_millis
from workloads.emulator.ratelimit import Verdict
from workloads.emulator.state import STATE, Answer, Query, json_answer
from workloads.world import World
from workloads.world.ids import snowflake_ms

HOUR_MS = 3_600_000
_PROBLEMS = "https://api.twitter.com/2/problems"
_TCO = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def invalid(parameter: str, value: str, message: str) -> Answer:
    error = {"parameters": {parameter: [value]}, "message": message}
    detail = "One or more parameters to your request was invalid."
    return 400, {
        "errors": [error],
        "title": "Invalid Request",
        "detail": detail,
        "type": f"{_PROBLEMS}/invalid-request",
    }


def user_not_found(user: str) -> Answer:
    error = {
        "value": user,
        "detail": f"Could not find user with id: [{user}].",
        "title": "Not Found Error",
        "resource_type": "user",
        "parameter": "id",
        "resource_id": user,
        "type": f"{_PROBLEMS}/resource-not-found",
    }
    return 404, {"errors": [error], "title": "Not Found Error", "detail": error["detail"], "type": error["type"]}


def following_answer(world: World, user: str, query: Query) -> Answer:
    """GET /2/users/:id/following?max_results=1..1000&pagination_token="""
    if not world.is_user(user):
        return user_not_found(user)
    limit = int_param(query, "max_results", 100, 1, 1000)
    offset = decode_cursor(query["pagination_token"]) if "pagination_token" in query else 0
    if limit is None or offset is None:
        return invalid("max_results", query.get("max_results", ""), "max_results or pagination_token is invalid")
    friends = world.friends(user)
    chunk = friends[offset : offset + limit]
    data = [{"id": f, "name": world.user_name(f), "username": f"user{f}"} for f in chunk]
    meta: dict[str, Any] = {"result_count": len(chunk)}
    if offset + len(chunk) < len(friends):
        meta["next_token"] = encode_cursor(offset + len(chunk))
    return 200, _listing(data, meta)


def timeline_answer(world: World, user: str, query: Query, now_ms: int) -> Answer:
    """GET /2/users/:id/tweets?since_id=&max_results=5..100&pagination_token=&tweet.fields="""
    if not world.is_user(user):
        return user_not_found(user)
    limit = int_param(query, "max_results", 10, 5, 100)
    since_id = int_param(query, "since_id", 0, 0, 2**63)
    before_id = decode_cursor(query["pagination_token"]) if "pagination_token" in query else None
    if limit is None or since_id is None or ("pagination_token" in query and before_id is None):
        return invalid("max_results", query.get("max_results", ""), "a parameter is out of range")
    since_ms = snowflake_ms(since_id) if since_id else 0
    until_ms = min(now_ms, snowflake_ms(before_id)) if before_id is not None else now_ms
    posts = world.iter_posts(user, since_ms, until_ms)
    tweets = ((p.snowflake, p.author_id, p.text, p.links, p.created_ms) for p in posts)
    return tweet_page(_between(tweets, since_id, before_id), limit, tweet_fields(query))


def trends_answer(world: World, query: Query, now_ms: int) -> Answer:
    """GET /1.1/trends/place.json?id=WOEID"""
    woeid = int_param(query, "id", -1, 0, 2**31)
    if woeid is None or woeid < 0:
        return 400, {"errors": [{"code": 44, "message": "id parameter is invalid."}]}
    if woeid not in world.woeids():
        return 404, {"errors": [{"code": 34, "message": "Sorry, that page does not exist."}]}
    hour_ms = now_ms - now_ms % HOUR_MS
    trends = [
        {
            "name": t.name,
            "url": f"http://twitter.com/search?q={quote(t.query)}",
            "promoted_content": None,
            "query": quote(t.query),
            "tweet_volume": t.tweet_volume,
        }
        for t in world.trends(woeid, now_ms)
    ]
    location = {"name": world.woeids()[woeid], "woeid": woeid}
    stamp = iso_millis(hour_ms).replace(".000", "")
    return 200, [{"trends": trends, "as_of": stamp, "created_at": stamp, "locations": [location]}]


async def handle_following(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return json_answer(following_answer(state.world, request.match_info["user"], request.query))


async def handle_timeline(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return json_answer(timeline_answer(state.world, request.match_info["user"], request.query, state.now_ms()))


async def handle_trends(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return json_answer(trends_answer(state.world, request.query, state.now_ms()))


def t_co(link: str) -> str:
    """The shortened form X shows in tweet text (deterministic per link)."""
    n = int.from_bytes(hashlib.blake2b(link.encode(), digest_size=8).digest(), "little")
    return "https://t.co/" + "".join(_TCO[(n >> (6 * i)) % len(_TCO)] for i in range(10))


Row = tuple[int, str, str, tuple[str, ...], int]  # id, author, text, links, created_ms


def _between(rows: Iterable[Row], since_id: int, before_id: int | None) -> Iterable[Row]:
    return (r for r in rows if r[0] > since_id and (before_id is None or r[0] < before_id))


def tweet_page(rows: Iterable[Row], limit: int, fields: frozenset[str]) -> Answer:
    taken = list(itertools.islice(rows, limit + 1))
    page = taken[:limit]
    data = [_tweet(row, fields) for row in page]
    meta: dict[str, Any] = {"result_count": len(page)}
    if page:
        meta["newest_id"], meta["oldest_id"] = str(page[0][0]), str(page[-1][0])
    if len(taken) > limit:
        meta["next_token"] = encode_cursor(page[-1][0])
    return 200, _listing(data, meta)


def _tweet(row: Row, fields: frozenset[str]) -> dict[str, Any]:
    tweet_id, author, text, links, created_ms = row
    urls = []
    for link in links:
        short = t_co(link)
        text = text.replace(link, short)
        start = text.find(short)
        urls.append({"start": start, "end": start + len(short), "url": short, "expanded_url": link,
                     "display_url": link.split("://", 1)[-1][:26]})  # fmt: skip
    tweet: dict[str, Any] = {"id": str(tweet_id), "text": text, "edit_history_tweet_ids": [str(tweet_id)]}
    if "created_at" in fields:
        tweet["created_at"] = iso_millis(created_ms)
    if "author_id" in fields:
        tweet["author_id"] = author
    if "entities" in fields and urls:
        tweet["entities"] = {"urls": urls}
    return tweet


def tweet_fields(query: Query) -> frozenset[str]:
    return frozenset(query.get("tweet.fields", "").split(","))


def _listing(data: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "meta": meta} if data else {"meta": meta}


# How X answers before a handler runs (app.FamilyRules).


def unauthorized(path: str) -> web.Response:
    if path.startswith("/1.1/"):
        return web.json_response({"errors": [{"code": 89, "message": "Invalid or expired token."}]}, status=401)
    body = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
    return web.json_response(body, status=401)


def token_refused(path: str) -> web.Response:
    return unauthorized(path)


def throttled(path: str, verdict: Verdict) -> web.Response:
    if path.startswith("/1.1/"):
        return web.json_response({"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, status=429)
    body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
    return web.json_response(body, status=429)


def rate_headers(path: str, verdict: Verdict) -> dict[str, str]:
    return verdict.headers()
