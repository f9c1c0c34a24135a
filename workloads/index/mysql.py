"""The VideoIndex port on MySQL or MariaDB through PyMySQL (see workloads.index.base for the contract).

Each call is one transaction on the object's connection (autocommit off, commit at the end, even for reads:
under REPEATABLE READ an open read transaction would keep showing an old snapshot). Before each call the
connection is pinged and, if it went away, replaced: PyMySQL deprecates `ping(reconnect=True)`, so this
reconnects by hand. One object holds one connection, guarded by a lock.

New videos and new links are counted exactly, even with concurrent writers: the count comes from an insert
whose ON DUPLICATE KEY UPDATE is a no-op, which MySQL reports as 0 affected rows (PyMySQL does not set
CLIENT_FOUND_ROWS). Metadata is filled by a second batched upsert using VALUES(), which MariaDB needs and
MySQL 8 still accepts (deprecated there in favour of row aliases, which MariaDB lacks).

The password is kept only to reconnect: no repr, log or error message here includes it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from ssl import SSLContext
from typing import Any

import pymysql
from pymysql.connections import Connection
from pymysql.cursors import Cursor

from workloads.index.base import CheckResult, StoredVideo, VideoRecord
from workloads.index.migrations import NOW_MS, migrate_mysql
from workloads.index.sqlite import in_time_order, stored_video  # the row and ordering rules of both backends

CHUNK = 1000  # ids per IN (...) list
CONNECT_TIMEOUT_S = 10.0

_COLUMNS = "video_id, url, title, channel, duration_s, first_seen_ms, last_checked_ms, stale, stale_reason"
_INSERT = (
    "INSERT INTO videos (video_id, url, title, channel, duration_s, first_seen_ms) VALUES (%s, %s, %s, %s, %s, %s)"
)
_INSERT_NEW = f"{_INSERT} ON DUPLICATE KEY UPDATE video_id = video_id"
# Run only for records with a title (the contract's "with metadata"); a field left None keeps its value.
_FILL_METADATA = (
    f"{_INSERT} ON DUPLICATE KEY UPDATE title = COALESCE(VALUES(title), title),"
    " channel = COALESCE(VALUES(channel), channel), duration_s = COALESCE(VALUES(duration_s), duration_s)"
)
_NOT_OLDER = "(last_checked_ms IS NULL OR last_checked_ms <= %s)"
# One UPDATE per group of checks sharing a time (and reason): a stale batch's checks share one time, so a
# batch of 2,000 costs two round trips instead of 2,000 (PyMySQL's executemany batches only INSERTs).
_MARK_STALE = (
    "UPDATE videos SET stale = TRUE, stale_reason = %s, last_checked_ms = %s"
    " WHERE video_id IN ({ids}) AND stale = FALSE AND " + _NOT_OLDER
)
_MARK_CHECKED = "UPDATE videos SET last_checked_ms = %s WHERE video_id IN ({ids}) AND " + _NOT_OLDER
IN_CHUNK = 1000
_ADD_RELATED = "INSERT INTO related (src_id, dst_id) VALUES (%s, %s) ON DUPLICATE KEY UPDATE src_id = src_id"
_SAVE_CURSOR = (
    f"INSERT INTO user_cursors (user_id, network, `cursor`, updated_ms) VALUES (%s, %s, %s, {NOW_MS['mysql']})"
    " ON DUPLICATE KEY UPDATE `cursor` = VALUES(`cursor`), updated_ms = VALUES(updated_ms)"
)


class MySQLVideoIndex:
    """The VideoIndex port on MySQL/MariaDB. Call migrate() (open_index does) before anything else.

    `ssl` is handed to PyMySQL as it is (an SSLContext, or its dict of ca/cert/key... options)."""

    def __init__(
        self,
        *,
        host: str,
        port: int = 3306,
        user: str,
        password: str = "",
        database: str,
        ssl: Mapping[str, Any] | SSLContext | None = None,
    ) -> None:
        self.host, self.port, self.user, self.database = host, port, user, database
        self._params: dict[str, Any] = {
            "host": host,
            "port": port,
            "user": user,
            "password": password,
            "database": database,
            "charset": "utf8mb4",
            "autocommit": False,
            "connect_timeout": CONNECT_TIMEOUT_S,
        }
        if ssl is not None:
            self._params["ssl"] = ssl if isinstance(ssl, SSLContext) else dict(ssl)
        self._lock = threading.Lock()
        self._conn: Connection[Cursor] = pymysql.connect(**self._params)

    def __repr__(self) -> str:
        return f"MySQLVideoIndex({self.user}@{self.host}:{self.port}/{self.database})"

    def _live(self) -> Connection[Cursor]:
        try:
            self._conn.ping()
        except pymysql.Error:
            with suppress(pymysql.Error):
                self._conn.close()
            self._conn = pymysql.connect(**self._params)
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        with self._lock:
            conn = self._live()
            try:
                with conn.cursor() as cur:
                    yield cur
                conn.commit()
            except BaseException:
                with suppress(pymysql.Error):  # a lost connection cannot roll back; the server already has
                    conn.rollback()
                raise

    def _read(self, sql: str, args: Sequence[object] = ()) -> tuple[tuple[Any, ...], ...]:
        with self._tx() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    def migrate(self) -> int:
        with self._lock:
            return migrate_mysql(self._live())

    def upsert_videos(self, videos: Sequence[VideoRecord]) -> int:
        rows = [(v.video_id, v.url, v.title, v.channel, v.duration_s, v.seen_ms) for v in videos]
        with_metadata = [row for row in rows if row[2] is not None]
        with self._tx() as cur:
            new = cur.executemany(_INSERT_NEW, rows) or 0
            if with_metadata:
                cur.executemany(_FILL_METADATA, with_metadata)
        return new

    def get(self, video_ids: Sequence[str]) -> dict[str, StoredVideo]:
        found: dict[str, StoredVideo] = {}
        ids = list(dict.fromkeys(video_ids))
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            sql = f"SELECT {_COLUMNS} FROM videos WHERE video_id IN ({', '.join(['%s'] * len(chunk))})"
            found.update((row[0], stored_video(row)) for row in self._read(sql, chunk))
        return found

    def due_for_check(self, before_ms: int, limit: int) -> list[StoredVideo]:
        # NULL sorts first ascending in MySQL and MariaDB: never-checked videos lead, in videos_due's order.
        sql = (
            f"SELECT {_COLUMNS} FROM videos WHERE stale = FALSE"
            " AND (last_checked_ms IS NULL OR last_checked_ms < %s) ORDER BY last_checked_ms, video_id LIMIT %s"
        )
        return [stored_video(row) for row in self._read(sql, (before_ms, max(limit, 0)))]

    def record_checks(self, results: Sequence[CheckResult]) -> int:
        ordered = in_time_order(results)
        dead: dict[tuple[str | None, int], list[str]] = {}
        checked: dict[int, list[str]] = {}
        for r in ordered:  # dicts keep the time order the groups are applied in
            if r.outcome == "dead":
                dead.setdefault((r.reason, r.checked_ms), []).append(r.video_id)
            checked.setdefault(r.checked_ms, []).append(r.video_id)
        became_stale = 0
        with self._tx() as cur:
            for (reason, checked_ms), ids in dead.items():
                for chunk in _chunks(ids):
                    sql = _MARK_STALE.format(ids=", ".join(["%s"] * len(chunk)))
                    became_stale += cur.execute(sql, (reason, checked_ms, *chunk, checked_ms))
            for checked_ms, ids in checked.items():
                for chunk in _chunks(ids):
                    cur.execute(
                        _MARK_CHECKED.format(ids=", ".join(["%s"] * len(chunk))), (checked_ms, *chunk, checked_ms)
                    )
        return became_stale

    def add_related(self, src_id: str, dst_ids: Sequence[str]) -> int:
        if not dst_ids:
            return 0
        with self._tx() as cur:
            return cur.executemany(_ADD_RELATED, [(src_id, dst_id) for dst_id in dst_ids]) or 0

    def related(self, src_id: str) -> list[str]:
        rows = self._read("SELECT dst_id FROM related WHERE src_id = %s ORDER BY seq", (src_id,))
        return [row[0] for row in rows]

    def cursor(self, user_id: str, network: str) -> str | None:
        sql = "SELECT `cursor` FROM user_cursors WHERE user_id = %s AND network = %s"
        rows = self._read(sql, (user_id, network))
        return str(rows[0][0]) if rows else None

    def save_cursor(self, user_id: str, network: str, cursor: str) -> None:
        with self._tx() as cur:
            cur.execute(_SAVE_CURSOR, (user_id, network, cursor))

    def count(self, stale: bool | None = None) -> int:
        if stale is None:
            return int(self._read("SELECT COUNT(*) FROM videos")[0][0])
        return int(self._read("SELECT COUNT(*) FROM videos WHERE stale = %s", (int(stale),))[0][0])

    def close(self) -> None:
        with self._lock, suppress(pymysql.Error):  # closing twice, or a connection already gone, is fine
            self._conn.close()


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start : start + IN_CHUNK]
