"""What the adapters return: the same small records whichever network they came from.

Each adapter turns its API's JSON into these at the boundary, so packs never see a Graph, X or oEmbed shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import SecretStr

T = TypeVar("T")

# A credential as callers hold it: SecretStr keeps it out of reprs and logs; a plain str is accepted for scripts.
Secret = SecretStr | str
# A user id -> the user access token the app holds for that user (None: the user never granted the app one).
UserTokens = Callable[[str], Secret | None]


def reveal(secret: Secret | None) -> str:
    """The credential's value, for the one place that puts it in a request header ("" when there is none)."""
    if secret is None:
        return ""
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a paged listing; `next_cursor` is None on the last page."""

    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Friend:
    """An account a user is friends with (Facebook) or follows (X)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Post:
    """A post or tweet; `links` are the expanded URLs it carries, `created_ms` epoch milliseconds."""

    post_id: str
    author_id: str
    text: str
    links: tuple[str, ...]
    created_ms: int


@dataclass(frozen=True, slots=True)
class Trend:
    """A trending topic in a place; `query` is ready to pass to a search (already URL-decoded)."""

    name: str
    query: str
    tweet_volume: int | None
    woeid: int


@dataclass(frozen=True, slots=True)
class VideoMeta:
    """A video's metadata; oEmbed does not report a duration, so `duration_s` may be None."""

    video_id: str
    title: str
    channel: str
    duration_s: int | None = None
