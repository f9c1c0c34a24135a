"""The video index: the VideoIndex port, its records, its two backends, and `open_index(url)`.

URLs (the `packs.index` setting):

    sqlite:///relative/path.db     a file relative to the working directory
    sqlite:////abs/path.db         an absolute path
    mysql://user:password@host:port/database
                                   password optional (URL-encoded, like the user); port defaults to 3306

Choices the contract (workloads.index.base) leaves open, decided here for both backends and pinned by
tests/workloads/contracts/:

* A record with metadata (a title) replaces the fields it gives; a field it leaves None keeps the stored
  value. A record without a title changes no metadata. The URL stored first is kept.
* `record_checks` applies a batch in check-time order, so the order within a batch does not matter; a video
  keeps the reason of the earliest dead check that made it stale. A check at the stored time is not older.
  Checks of ids not in the index are ignored.
* `due_for_check` leaves out a video checked exactly at before_ms ("before").
* Links are not checked against the videos table (no foreign key): add_related may run first.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

from workloads.index.base import CheckOutcome, CheckResult, StoredVideo, VideoIndex, VideoRecord
from workloads.index.migrations import MigrationError
from workloads.index.mysql import MySQLVideoIndex
from workloads.index.sqlite import SQLiteVideoIndex

__all__ = [
    "CheckOutcome",
    "CheckResult",
    "MigrationError",
    "MySQLVideoIndex",
    "SQLiteVideoIndex",
    "StoredVideo",
    "VideoIndex",
    "VideoRecord",
    "open_index",
]

SETTING = "packs.index"
EXAMPLES = "sqlite:///var/ebbflow/index.db or mysql://ebbflow:secret@127.0.0.1:3306/ebbflow"
SQLITE_PREFIX = "sqlite:///"


def _bad(problem: str) -> ValueError:
    # Never quote the URL itself: it may hold a password.
    return ValueError(f"{SETTING}: {problem}; expected a URL like {EXAMPLES}")


def open_index(url: str) -> VideoIndex:
    """Open (and migrate) the index a `packs.index` URL names; a malformed URL raises ValueError."""
    index: VideoIndex
    if url.startswith(SQLITE_PREFIX):
        index = SQLiteVideoIndex(_sqlite_path(url))
    elif url.startswith("mysql://"):
        index = _open_mysql(url)
    elif url.startswith("sqlite:"):
        raise _bad("a sqlite URL starts with sqlite:/// (three slashes, four before an absolute path)")
    else:
        scheme = url.partition("://")[0] if "://" in url else ""
        raise _bad(f"unsupported scheme {scheme!r}" if scheme else "not a URL")
    try:
        index.migrate()
    except BaseException:
        index.close()
        raise
    return index


def _sqlite_path(url: str) -> Path:
    path = url[len(SQLITE_PREFIX) :]
    if not path or "?" in path or "#" in path:
        raise _bad("a sqlite URL needs a file path and nothing after it")
    return Path(path)


def _open_mysql(url: str) -> MySQLVideoIndex:
    try:
        parts = urlsplit(url)
        port = parts.port or 3306
    except ValueError as err:  # a port that is not a number, or out of range
        raise _bad("the mysql port must be a number from 1 to 65535") from err
    return MySQLVideoIndex(
        host=_required(parts.hostname, "host"),
        port=port,
        user=unquote(_required(parts.username, "user")),
        password=unquote(parts.password or ""),
        database=_database(parts),
    )


def _required(value: str | None, field: str) -> str:
    if not value:
        raise _bad(f"the mysql URL has no {field}")
    return value


def _database(parts: SplitResult) -> str:
    database = unquote(parts.path.removeprefix("/"))
    if not database or "/" in database:
        raise _bad("the mysql URL needs one database name as its path")
    if parts.query or parts.fragment:
        raise _bad("the mysql URL takes no query string or fragment")
    return database
