"""Graph API JSON -> our records, and Graph error answers -> our errors. Pure; no HTTP.

Graph lists are {"data": [...], "paging": {"cursors": {"before", "after"}, "next": url}}; "next" is absent on the
last page even though the cursors are still there, so only "next" says whether to go on.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from workloads.sources.errors import AccessDeniedError, BadResponseError, NotFoundError, SourceError
from workloads.sources.types import Friend, Page, Post

_API = "graph"


def parse_friends(body: Any) -> Page[Friend]:
    """A page of GET /{user}/friends."""
    items = _data(body)
    try:
        friends = tuple(Friend(id=str(item["id"]), name=str(item.get("name", ""))) for item in items)
    except (KeyError, TypeError, AttributeError) as err:
        raise BadResponseError(f"{_API}: a friend lacks an id") from err
    return Page(friends, next_after(body))


def parse_feed(body: Any, author_id: str) -> Page[Post]:
    """A page of GET /{user}/feed (fields id, message, created_time, link)."""
    items = _data(body)
    try:
        posts = tuple(_post(item, author_id) for item in items)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise BadResponseError(f"{_API}: a feed post lacks an id or a valid created_time") from err
    return Page(posts, next_after(body))


def next_after(body: dict[str, Any]) -> str | None:
    """The cursor of the next page, or None on the last page."""
    paging = body.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    if not isinstance(after, str) or not after:
        raise BadResponseError(f"{_API}: paging has a next page but no after cursor")
    return after


def parse_batch(body: Any, expected: int) -> list[tuple[int, Any] | None]:
    """The answers of a batch call, in request order: (code, parsed body) or None for an unanswered item."""
    if not isinstance(body, list) or len(body) != expected:
        raise BadResponseError(f"{_API}: a batch of {expected} was not answered with a list of {expected}")
    answers: list[tuple[int, Any] | None] = []
    for item in body:
        if item is None:  # Graph answers null for items it did not get to in time
            answers.append(None)
            continue
        try:
            answers.append((int(item["code"]), json.loads(item["body"])))
        except (KeyError, TypeError, ValueError) as err:
            raise BadResponseError(f"{_API}: a batch answer lacks a code or a JSON body") from err
    return answers


def error_for(status: int, body: Any, what: str) -> SourceError:
    """The error to raise for a non-2xx answer about `what` ("user 42")."""
    detail = _error_detail(body)
    if status == 404:
        return NotFoundError(f"{_API}: {what} not found{detail}")
    if status in (401, 403):
        return AccessDeniedError(f"{_API}: access to {what} denied (HTTP {status}){detail}")
    return BadResponseError(f"{_API}: unexpected HTTP {status} for {what}{detail}")


def _data(body: Any) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BadResponseError(f"{_API}: expected an object with a data list")
    return body["data"]  # type: ignore[no-any-return]


def _post(item: dict[str, Any], author_id: str) -> Post:
    message = item.get("message") or ""
    link = item.get("link")
    created = datetime.strptime(item["created_time"], "%Y-%m-%dT%H:%M:%S%z")
    return Post(
        post_id=str(item["id"]),
        author_id=str(item.get("from", {}).get("id", author_id)),
        text=str(message),
        links=(str(link),) if link else (),
        created_ms=int(created.timestamp()) * 1000,
    )


def _error_detail(body: Any) -> str:
    """Graph's error type, code and message (its messages never echo the token), kept short."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    return f": {error.get('type', '?')} {error.get('code', '?')}: {str(error.get('message', ''))[:200]}"
