"""X API JSON -> our records. Pure; no HTTP.

v2 lists are {"data": [...], "meta": {"result_count", "next_token", "newest_id", ...}}, with "data" absent when
nothing matched. Tweet text carries t.co links; the real URLs are in entities.urls[].expanded_url.
v1.1 trends are [{"trends": [{"name", "query" (URL-encoded), "tweet_volume"}], "locations": [...]}].
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from workloads.sources.errors import BadResponseError
from workloads.sources.types import Friend, Page, Post, Trend

_API = "x"


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


def _listing(body: Any) -> tuple[list[Any], str | None]:
    if not isinstance(body, dict):
        raise BadResponseError(f"{_API}: expected a JSON object")
    items = body.get("data", [])
    meta = body.get("meta", {})
    if not isinstance(items, list) or not isinstance(meta, dict):
        raise BadResponseError(f"{_API}: expected a data list and a meta object")
    next_token = meta.get("next_token")
    return items, str(next_token) if next_token else None


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
