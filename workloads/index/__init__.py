"""The video index: the VideoIndex port, its records, its two backends, and `open_index(url)`.

URLs (the `packs.index` setting):

    sqlite:///relative/path.db     a file relative to the working directory
    sqlite:////abs/path.db         an absolute path
    mysql://user:password@host:port/database
                                   password optional (URL-encoded, like the user); port defaults to 3306
    mysql://...?tls_ca_file=/ca.pem
                                   TLS, the server's certificate verified against that CA (host name
                                   included); tls_cert_file and tls_key_file add a client certificate

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
from urllib.parse import SplitResult, unquote

from workloads.index.base import CheckOutcome, CheckResult, StoredVideo, VideoIndex, VideoRecord
from workloads.index.migrations import MigrationError
from workloads.index.mysql import MySQLVideoIndex
from workloads.index.sqlite import SQLiteVideoIndex
from workloads.store_urls import SQLITE_PREFIX, TLS_PARAMETERS, StoreUrl

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

URL = StoreUrl("packs.index", "sqlite:///var/ebbflow/index.db or mysql://ebbflow:secret@127.0.0.1:3306/ebbflow")


def open_index(url: str) -> VideoIndex:
    """Open (and migrate) the index a `packs.index` URL names; a malformed URL raises ValueError."""
    index: VideoIndex
    if url.startswith(SQLITE_PREFIX):
        index = SQLiteVideoIndex(Path(URL.sqlite_path(url)))
    elif url.startswith("mysql://"):
        index = _open_mysql(url)
    else:
        raise URL.unsupported(url)
    try:
        index.migrate()
    except BaseException:
        index.close()
        raise
    return index


def _open_mysql(url: str) -> MySQLVideoIndex:
    parts, port = URL.split(url, default_port=3306)
    database = _database(parts)
    files = URL.tls_files(URL.query(parts, TLS_PARAMETERS))
    if files["tls_ca_file"] is None and files["tls_cert_file"] is not None:
        raise URL.bad("tls_cert_file needs tls_ca_file: the server's certificate must be verified too")
    ssl = None
    if files["tls_ca_file"] is not None:
        ssl = {"ca": files["tls_ca_file"], "cert": files["tls_cert_file"], "key": files["tls_key_file"]}
    return MySQLVideoIndex(
        host=_required(parts.hostname, "host"),
        port=port,
        user=unquote(_required(parts.username, "user")),
        password=unquote(parts.password or ""),
        database=database,
        ssl={key: value for key, value in ssl.items() if value is not None} if ssl else None,
    )


def _required(value: str | None, field: str) -> str:
    if not value:
        raise URL.bad(f"the mysql URL has no {field}")
    return value


def _database(parts: SplitResult) -> str:
    database = unquote(parts.path.removeprefix("/"))
    if not database or "/" in database:
        raise URL.bad("the mysql URL needs one database name as its path")
    return database
