"""X API JSON -> our records. Pure; no HTTP.

v2 lists are {"data": [...], "meta": {"result_count", "next_token", "newest_id", ...}}, with "data" absent when
nothing matched. A missing (or invisible) user is not an HTTP 404 in v2 but a 200 whose body has an "errors"
array of problems (type .../problems/resource-not-found) and no "data". Tweet text carries t.co links; the real
URLs are in entities.urls[].expanded_url.
Trends: v2 /2/trends/by/woeid answers {"data": [{"trend_name", "tweet_count"}]} (tweet_count absent when X does
not know it); v1.1 trends/place answers [{"trends": [{"name", "query" (URL-encoded), "tweet_volume"}], ...}].
A 429 whose body is a usage-capped problem is a spent monthly cap, not a rate window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from workloads.sources.errors import BadResponseError, NotFoundError
from workloads.sources.types import Friend, Page, Post, Trend

_API = "x"
_PROBLEMS = "https://api.twitter.com/2/problems/"
# Problems that mean "no such resource for you": gone, never there, suspended, or protected from this token.
_NOT_FOUND = frozenset({"resource-not-found", "not-authorized-for-resource"})


def parse_users(body: Any) -> Page[Friend]:
    """A page of GET /2/users/:id/following."""
    items, next_token = _listing(body)
    try:
        return Page(tuple(Friend(id=str(u["id"]), name=str(u.get("name", ""))) for u in items), next_token)
    except (KeyError, TypeError, AttributeError) as err:
        raise BadResponseError(f"{_API}: a user lacks an id") from err


def parse_tweets(body: Any) -> Page[Post]:
    """A page of GET /2/users/:id/tweets or /2/tweets/search/recent (tweet.fields created_at,author_id,entities)."""
    items, next_token = _listing(body)
    try:
        return Page(tuple(_post(t) for t in items), next_token)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise BadResponseError(f"{_API}: a tweet lacks an id, author_id or valid created_at") from err


def parse_trends_v2(body: Any, woeid: int) -> list[Trend]:
    """The answer of GET /2/trends/by/woeid/:woeid. v2 gives no search query, so a trend's query is its name,
    quoted when it has several words (as v1.1's query was), so that a search matches the phrase."""
    if isinstance(body, dict) and "data" not in body:
        _raise_problems(body)
    try:
        return [
            Trend(
                name=str(t["trend_name"]),
                query=_query_of(str(t["trend_name"])),
                tweet_volume=int(t["tweet_count"]) if t.get("tweet_count") is not None else None,
                woeid=woeid,
            )
            for t in body["data"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise BadResponseError(f"{_API}: v2 trends of {woeid} are not a data list of trend_name objects") from err


def parse_trends(body: Any, woeid: int) -> list[Trend]:
    """The answer of GET /1.1/trends/place.json?id=woeid."""
    try:
        trends = body[0]["trends"]
        return [
            Trend(
                name=str(t["name"]),
                query=unquote_plus(str(t.get("query") or t["name"])),
                tweet_volume=int(t["tweet_volume"]) if t.get("tweet_volume") is not None else None,
                woeid=woeid,
            )
            for t in trends
        ]
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise BadResponseError(f"{_API}: trends of {woeid} are not a list of trend objects") from err


def usage_cap_detail(body: Any) -> str | None:
    """The detail of a usage-capped problem ("Usage cap exceeded: Monthly product cap"), None for anything else."""
    if not isinstance(body, dict):
        return None
    if body.get("type") != _PROBLEMS + "usage-capped" and body.get("title") != "UsageCapExceeded":
        return None
    return str(body.get("detail") or body.get("title"))


def _listing(body: Any) -> tuple[list[Any], str | None]:
    if not isinstance(body, dict):
        raise BadResponseError(f"{_API}: expected a JSON object")
    if "data" not in body and "meta" not in body:
        _raise_problems(body)
    items = body.get("data", [])
    meta = body.get("meta", {})
    if not isinstance(items, list) or not isinstance(meta, dict):
        raise BadResponseError(f"{_API}: expected a data list and a meta object")
    next_token = meta.get("next_token")
    return items, str(next_token) if next_token else None


def _raise_problems(body: dict[str, Any]) -> None:
    """A 200 without data: NotFoundError for a missing or invisible resource, else the shape is not ours."""
    errors = body.get("errors")
    if not isinstance(errors, list) or not errors:
        raise BadResponseError(f"{_API}: expected data, meta or errors")
    for error in errors:
        if isinstance(error, dict) and str(error.get("type", "")).removeprefix(_PROBLEMS) in _NOT_FOUND:
            raise NotFoundError(f"{_API}: {error.get('detail') or error.get('title') or 'not found'}")
    raise BadResponseError(f"{_API}: the answer holds errors and no data")


def _query_of(name: str) -> str:
    return f'"{name.replace(chr(34), "")}"' if len(name.split()) > 1 else name


def _post(tweet: dict[str, Any]) -> Post:
    urls = tweet.get("entities", {}).get("urls", [])
    created = datetime.fromisoformat(str(tweet["created_at"]).replace("Z", "+00:00"))
    return Post(
        post_id=str(tweet["id"]),
        author_id=str(tweet["author_id"]),
        text=str(tweet["text"]),
        links=tuple(str(u.get("expanded_url") or u["url"]) for u in urls),
        created_ms=round(created.timestamp() * 1000),
    )
