"""Graph API JSON -> our records, and Graph error answers -> our errors. Pure; no HTTP.

Lists are {"data": [...], "paging": {...}} in any of the three styles the Graph docs describe (Paginated Results,
read 2026-12-08): cursors ({"cursors": {"before", "after"}, "next"}), time-based ("next" carrying `until`, and
on feeds `__paging_token`) and offset ("next" carrying `offset`). Only "next" says whether to go on, and its query
is the request for the next page whatever the style, so a page's cursor is that query (minus any access_token,
which must never reach a checkpoint or a log), written "?a=1&b=2". A bare cursor (an older checkpoint) is an
`after` cursor.

Errors are decided by Graph's `code` and `error_subcode`, never by the HTTP status alone (Handling Errors, read
2026-12-08): the status of an error is 400 for nearly every kind, so it says almost nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from workloads.sources.errors import (
    AccessDeniedError,
    BadResponseError,
    NotFoundError,
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
)
from workloads.sources.types import Friend, Page, Post

_API = "graph"
# Throttling: app (4), user (17), page (32), app limit (341), custom (613), business use cases (80001-80014).
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613, *range(80001, 80015)})
# The token is missing (104), expired, revoked or invalid (190, 102, 2500): a new token is needed.
TOKEN_CODES = frozenset({102, 104, 190, 2500})
# The token lacks a permission for this object: 3 (capability), 10, 200-299.
PERMISSION_CODES = frozenset({3, 10, *range(200, 300)})
TRANSIENT_CODES = frozenset({1, 2})  # unknown / service: "wait and retry"
NOT_FOUND_CODE, NOT_FOUND_SUBCODE = 100, 33  # no such object, or not visible to this token
ALIAS_NOT_FOUND_CODE = 803  # "some of the aliases you requested do not exist"


@dataclass(frozen=True, slots=True)
class GraphError:
    """The `error` object of a Graph answer."""

    code: int | None
    subcode: int | None
    kind: str
    message: str
    transient: bool = False

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLE_CODES

    def brief(self) -> str:
        """Type, code, subcode and message, short (Graph's messages never echo the token)."""
        sub = f"/{self.subcode}" if self.subcode is not None else ""
        return f"{self.kind} {self.code}{sub}: {self.message[:200]}"


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """One item of a batch answer: its status, its parsed JSON body and its headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def parse_friends(body: Any) -> Page[Friend]:
    """A page of GET /{user}/friends (only the friends who use the app; `summary.total_count` counts all)."""
    items = _data(body)
    try:
        friends = tuple(Friend(id=str(item["id"]), name=str(item.get("name", ""))) for item in items)
    except (KeyError, TypeError, AttributeError) as err:
        raise BadResponseError(f"{_API}: a friend lacks an id") from err
    return Page(friends, next_page(body))


def parse_feed(body: Any, author_id: str) -> Page[Post]:
    """A page of GET /{user}/feed (fields id, message, created_time, link)."""
    items = _data(body)
    try:
        posts = tuple(_post(item, author_id) for item in items)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise BadResponseError(f"{_API}: a feed post lacks an id or a valid created_time") from err
    return Page(posts, next_page(body))


def next_page(body: dict[str, Any]) -> str | None:
    """The cursor of the next page ("?" + the query of `paging.next`, without access_token), None on the last."""
    paging = body.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    if not following:
        return None
    if not isinstance(following, str):
        raise BadResponseError(f"{_API}: paging.next is not a URL")
    query = [(key, value) for key, value in parse_qsl(urlsplit(following).query) if key != "access_token"]
    if not query:
        raise BadResponseError(f"{_API}: paging.next names no page (no query)")
    return "?" + urlencode(query)


def page_params(cursor: str | None) -> dict[str, str]:
    """The query parameters that ask for the page a cursor names (see the module docstring)."""
    if cursor is None:
        return {}
    if cursor.startswith("?"):
        return {key: value for key, value in parse_qsl(cursor[1:]) if key != "access_token"}
    return {"after": cursor}


def parse_batch(body: Any, expected: int) -> list[BatchAnswer | None]:
    """The answers of a batch call, in request order; None for an item Graph did not get to (it answers null)."""
    if not isinstance(body, list) or len(body) != expected:
        raise BadResponseError(f"{_API}: a batch of {expected} was not answered with a list of {expected}")
    answers: list[BatchAnswer | None] = []
    for item in body:
        if item is None:
            answers.append(None)
            continue
        try:
            headers = {str(h["name"]): str(h["value"]) for h in item.get("headers") or []}
            answers.append(BatchAnswer(int(item["code"]), json.loads(item["body"]), headers))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise BadResponseError(f"{_API}: a batch answer lacks a code or a JSON body") from err
    return answers


def graph_error(body: Any) -> GraphError | None:
    """The error object of an answer, None when there is none."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    return GraphError(
        code=_int(error.get("code")),
        subcode=_int(error.get("error_subcode")),
        kind=str(error.get("type", "?")),
        message=str(error.get("message", "")),
        transient=error.get("is_transient") is True,
    )


def error_for(status: int, body: Any, what: str) -> SourceError:
    """The error to raise for a non-200 answer about `what` ("user 42"), decided by Graph's code."""
    error = graph_error(body)
    if error is None:  # not Graph speaking (a proxy, a wrong path): only an auth status means something
        if status in (401, 403):
            return AccessDeniedError(f"{_API}: access to {what} denied (HTTP {status}, no Graph error)")
        return BadResponseError(f"{_API}: unexpected HTTP {status} for {what} (no Graph error)")
    detail = f"(HTTP {status}, {error.brief()})"
    if (error.code, error.subcode) == (NOT_FOUND_CODE, NOT_FOUND_SUBCODE) or error.code == ALIAS_NOT_FOUND_CODE:
        return NotFoundError(f"{_API}: {what} does not exist or is not visible {detail}")
    if error.code in TOKEN_CODES:
        return AccessDeniedError(f"{_API}: the token for {what} is missing, expired or revoked {detail}")
    if error.code in PERMISSION_CODES:
        return AccessDeniedError(f"{_API}: no permission to read {what} {detail}")
    if error.throttled:
        return RateLimitedError(_API, 0.0, None)
    if error.code in TRANSIENT_CODES or error.transient:
        return SourceUnavailableError(f"{_API}: temporary failure for {what} {detail}")
    return BadResponseError(f"{_API}: unexpected error for {what} {detail}")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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
