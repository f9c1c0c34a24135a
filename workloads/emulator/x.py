"""The emulated X API: v2 following, user timelines, recent search and trends by WOEID, and v1.1 trends/place.

Shapes follow X: v2 lists are {"data": [...], "meta": {"result_count", "next_token", "newest_id", "oldest_id"}}
with "data" left out when empty; tweet text carries t.co links and entities.urls the expanded ones; errors are
problem objects {"title", "detail", "type"} (with "errors" for invalid requests). A user that does not exist is
not an HTTP 404 in v2: the answer is 200 with an "errors" array (a resource-not-found problem) and no "data".
v2 trends are {"data": [{"trend_name", "tweet_count"}]}, tweet_count left out when unknown. v1.1 trends are
[{"trends", "as_of", "created_at", "locations"}]. Which of the two an access tier has is RateLimits.x_trends:
by default v2 only, and v1.1 answers 403 with code 453, as on the common tiers; a refused v2 endpoint is a 403
client-forbidden problem. Throttled answers carry x-rate-limit-* and no Retry-After; a spent usage cap is a 429
usage-capped problem. Recent search lives in x_search.
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
DEFAULT_TRENDS = 20
MAX_TRENDS = 50
CLIENT_FORBIDDEN = (
    "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter "
    "developer App that is attached to a Project. You can create a project via the developer portal."
)
V1_REFUSED = (
    "You currently have access to a subset of X API V2 endpoints and limited v1.1 endpoints (e.g. media post, "
    "oauth) only. If you need access to this endpoint, you may need a different access level. You can learn more "
    "here: https://developer.x.com/en/portal/product"
)
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


def resource_not_found(resource_type: str, parameter: str, value: str, what: str) -> Answer:
    """v2 reports a missing resource inside a 200, as a partial error with no data."""
    error = {
        "value": value,
        "detail": f"Could not find {resource_type} with {what}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": f"{_PROBLEMS}/resource-not-found",
    }
    return 200, {"errors": [error]}


def user_not_found(user: str) -> Answer:
    return resource_not_found("user", "id", user, "id")


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
    """GET /1.1/trends/place.json?id=WOEID (for access tiers that still have it)"""
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


def v1_refused() -> Answer:
    """What the common access tiers get from v1.1 endpoints other than media and OAuth."""
    return 403, {"errors": [{"message": V1_REFUSED, "code": 453}]}


def client_forbidden() -> Answer:
    """What v2 answers an app whose access level does not include the endpoint."""
    return 403, {
        "client_id": "101010101",
        "detail": CLIENT_FORBIDDEN,
        "registration_url": "https://developer.x.com/en/portal/product",
        "title": "Client Forbidden",
        "required_enrollment": "Appropriate Level of API Access",
        "reason": "client-not-enrolled",
        "type": f"{_PROBLEMS}/client-forbidden",
    }


def trends_v2_answer(world: World, woeid_text: str, query: Query, now_ms: int) -> Answer:
    """GET /2/trends/by/woeid/:woeid?max_trends=1..50&trend.fields=trend_name,tweet_count"""
    limit = int_param(query, "max_trends", DEFAULT_TRENDS, 1, MAX_TRENDS)
    if limit is None:
        return invalid("max_trends", query.get("max_trends", ""), f"max_trends must be within [1, {MAX_TRENDS}]")
    woeid = int(woeid_text) if woeid_text.isdigit() else None
    if woeid is None or woeid not in world.woeids():
        return place_not_found(woeid_text)
    data = [_trend_v2(t.name, t.tweet_volume) for t in world.trends(woeid, now_ms)[:limit]]
    return 200, {"data": data}


def place_not_found(woeid: str) -> Answer:
    """An unknown WOEID, reported as v2 reports any missing resource (the trends docs show no error example)."""
    return resource_not_found("place", "woeid", woeid, "woeid")


def _trend_v2(name: str, volume: int | None) -> dict[str, Any]:
    return {"trend_name": name} if volume is None else {"trend_name": name, "tweet_count": volume}


async def handle_following(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return json_answer(following_answer(state.world, request.match_info["user"], request.query))


async def handle_timeline(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return json_answer(timeline_answer(state.world, request.match_info["user"], request.query, state.now_ms()))


async def handle_trends(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if "v1.1" not in state.limiter.limits.x_trends:
        return json_answer(v1_refused())
    return json_answer(trends_answer(state.world, request.query, state.now_ms()))


async def handle_trends_v2(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if "v2" not in state.limiter.limits.x_trends:
        return json_answer(client_forbidden())
    answer = trends_v2_answer(state.world, request.match_info["woeid"], request.query, state.now_ms())
    return json_answer(answer)


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
    if verdict.capped:
        return web.json_response(usage_capped(), status=429)
    if path.startswith("/1.1/"):
        return web.json_response({"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, status=429)
    body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
    return web.json_response(body, status=429)


def usage_capped() -> dict[str, Any]:
    """The problem X answers once the product's monthly usage cap is spent (a 429, but no window will lift it)."""
    return {
        "title": "UsageCapExceeded",
        "detail": "Usage cap exceeded: Monthly product cap",
        "type": f"{_PROBLEMS}/usage-capped",
        "period": "Monthly",
        "scope": "Product",
    }


def rate_headers(path: str, verdict: Verdict) -> dict[str, str]:
    """x-rate-limit-limit, -remaining and -reset on every answer; X never sends Retry-After."""
    return verdict.rate_limit_headers()
