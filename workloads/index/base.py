"""The VideoIndex port: the videos the packs found, their metadata, when each was last checked, whether it is
stale, the links between related videos, and each user's fetch cursor per network.

Two implementations share this contract (tests/workloads/contracts/ runs one suite against both):
`SQLiteVideoIndex` (the embedded default, one file) and `MySQLVideoIndex` (PyMySQL; MySQL or MariaDB).
Each creates and migrates its schema from versioned SQL files (`workloads/index/migrations/<dialect>/`).

Contract:
* `upsert_videos` is idempotent: a video already there keeps its first_seen_ms, last_checked_ms and stale
  state; a record with metadata fills or replaces the stored metadata, one without (title None) leaves it.
  It returns how many of the ids were new.
* `due_for_check(before_ms, limit)` lists videos that are not stale and were never checked or last checked
  before `before_ms`, oldest first (never checked first, then by last_checked_ms, then by id).
* `record_checks` stores each check's time and outcome; a dead outcome marks the video stale (with its
  reason) and a stale video stays stale. A check older than the stored last_checked_ms changes nothing.
* `add_related(src, dst_ids)` is idempotent; `related(src)` lists them in insertion order.
* Cursors: `cursor(user, network)` is None until `save_cursor` stores one; a save replaces it.
* Times are epoch milliseconds from the caller's clock; ids are strings of at most 64 characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

CheckOutcome = Literal["alive", "dead"]


@dataclass(frozen=True, slots=True)
class VideoRecord:
    """A video as a pack saw it: its canonical id and URL, and metadata when it was fetched."""

    video_id: str
    url: str
    title: str | None = None
    channel: str | None = None
    duration_s: int | None = None
    seen_ms: int = 0


@dataclass(frozen=True, slots=True)
class StoredVideo:
    video_id: str
    url: str
    title: str | None
    channel: str | None
    duration_s: int | None
    first_seen_ms: int
    last_checked_ms: int | None
    stale: bool
    stale_reason: str | None


@dataclass(frozen=True, slots=True)
class CheckResult:
    video_id: str
    checked_ms: int
    outcome: CheckOutcome
    reason: str | None = None  # why it is dead: "404", "410", "unavailable page"


class VideoIndex(Protocol):
    def migrate(self) -> int:
        """Apply the migrations not applied yet; return how many ran. Safe to call on every open."""
        ...

    def upsert_videos(self, videos: Sequence[VideoRecord]) -> int: ...

    def get(self, video_ids: Sequence[str]) -> dict[str, StoredVideo]: ...

    def due_for_check(self, before_ms: int, limit: int) -> list[StoredVideo]: ...

    def record_checks(self, results: Sequence[CheckResult]) -> int:
        """Store the checks; return how many videos became stale by them."""
        ...

    def add_related(self, src_id: str, dst_ids: Sequence[str]) -> int:
        """Link src to each dst (both should be upserted first); return how many links are new."""
        ...

    def related(self, src_id: str) -> list[str]: ...

    def cursor(self, user_id: str, network: str) -> str | None: ...

    def save_cursor(self, user_id: str, network: str, cursor: str) -> None: ...

    def count(self, stale: bool | None = None) -> int:
        """Videos in the index: all (None), only stale (True) or only live ones (False)."""
        ...

    def close(self) -> None: ...
