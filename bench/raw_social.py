"""The ceiling for bench/social_graph.py: the same HTTP calls a user's fetch makes (Graph friends pages with the
user's token and batched feeds, each item with its friend's own token; X following pages and one timeline per
friend; the same page sizes and thread count), made by a plain httpx loop that only decodes the JSON: no adapters,
no URL extraction, no stores, no scheduler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx

from workloads.social_graph.networks import FRIENDS_PER_PAGE, X_THREADS
from workloads.sources.facebook import FEED_FIELDS
from workloads.world.users import graph_token

HEADERS = {"Authorization": "Bearer emulator"}
GRAPH = "v19.0"
BATCH = 50


def fetch_user(client: httpx.Client, pool: ThreadPoolExecutor, user: str, since_s: int) -> int:
    """Every call of one user's fetch on both networks; returns how many calls it made."""
    calls = 0
    own = {"Authorization": f"Bearer {graph_token(user)}"}
    for friends in _pages(client, f"/{GRAPH}/{user}/friends", "after", {"limit": FRIENDS_PER_PAGE}, own):
        calls += 1
        for start in range(0, len(friends), BATCH):
            feeds = [
                {"method": "GET", "relative_url": f"{GRAPH}/{f}/feed?{_feed_query(f, since_s)}"}
                for f in friends[start : start + BATCH]
            ]
            _ok(client.post(f"/{GRAPH}/", data={"batch": json.dumps(feeds)}, headers=HEADERS))
            calls += 1
    for friends in _pages(client, f"/2/users/{user}/following", "pagination_token", {"max_results": FRIENDS_PER_PAGE}):
        calls += 1 + len(friends)
        list(
            pool.map(
                lambda friend: _ok(client.get(f"/2/users/{friend}/tweets", params=TWEETS, headers=HEADERS)), friends
            )
        )
    return calls


TWEETS: dict[str, str | int] = {"max_results": 100, "tweet.fields": "created_at,author_id,entities"}


def _timeline(client: httpx.Client, friend: str) -> dict[str, object]:
    return _ok(client.get(f"/2/users/{friend}/tweets", params=TWEETS, headers=HEADERS))


def _feed_query(friend: str, since_s: int) -> str:
    return urlencode({"fields": FEED_FIELDS, "since": since_s, "limit": 100, "access_token": graph_token(friend)})


def _pages(
    client: httpx.Client,
    path: str,
    cursor_name: str,
    params: dict[str, str | int],
    headers: dict[str, str] = HEADERS,
) -> Iterator[list[str]]:
    cursor: str | None = None
    while True:
        query = {**params, cursor_name: cursor} if cursor else params
        body = _ok(client.get(path, params=query, headers=headers))
        yield [friend["id"] for friend in body["data"]]  # type: ignore[attr-defined]
        cursor = _next(body)
        if cursor is None:
            return


def _next(body: dict[str, object]) -> str | None:
    paging, meta = body.get("paging"), body.get("meta")
    if isinstance(paging, dict) and paging.get("next"):
        return str(paging["cursors"]["after"])
    if isinstance(meta, dict) and meta.get("next_token"):
        return str(meta["next_token"])
    return None


def _ok(response: httpx.Response) -> dict[str, object]:
    response.raise_for_status()
    body: dict[str, object] = response.json() if response.text[:1] == "{" else {"data": response.json()}
    return body


def fetch_all(base_url: str, users: list[str], since_s: int) -> int:
    limits = httpx.Limits(max_connections=X_THREADS + 1)
    with httpx.Client(base_url=base_url, limits=limits) as client, ThreadPoolExecutor(X_THREADS) as pool:
        return sum(fetch_user(client, pool, user, since_s) for user in users)
