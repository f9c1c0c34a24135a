"""The VideoIndex port on one SQLite file: the embedded default (see workloads.index.base for the contract).

Safe with several processes on one machine: WAL lets readers run beside the writer, and every write is one
BEGIN IMMEDIATE transaction, which takes the write lock before reading, so the counts it returns (new videos,
new links, newly stale) cannot be raced by another writer. A busy lock is waited for up to BUSY_TIMEOUT_S.
One object holds one connection, guarded by a lock: share it between threads, or open one per process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from workloads.index.base import CheckResult, StoredVideo, VideoRecord
from workloads.index.migrations import NOW_MS, migrate_sqlite
from workloads.sqlite_file import SQLiteFile

CHUNK = 500  # ids per IN (...) list: far below SQLite's bound variables limit

_COLUMNS = "video_id, url, title, channel, duration_s, first_seen_ms, last_checked_ms, stale, stale_reason"
_INSERT_NEW = (
    "INSERT INTO videos (video_id, url, title, channel, duration_s, first_seen_ms) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (video_id) DO NOTHING"
)
# Run only for records with a title (the contract's "with metadata"); a field left None keeps its value.
_FILL_METADATA = (
    "INSERT INTO videos (video_id, url, title, channel, duration_s, first_seen_ms) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (video_id) DO UPDATE SET title = COALESCE(excluded.title, title),"
    " channel = COALESCE(excluded.channel, channel), duration_s = COALESCE(excluded.duration_s, duration_s)"
)
_NOT_OLDER = "(last_checked_ms IS NULL OR last_checked_ms <= ?)"
_MARK_STALE = (
    "UPDATE videos SET stale = 1, stale_reason = ?, last_checked_ms = ?"
    f" WHERE video_id = ? AND stale = 0 AND {_NOT_OLDER}"
)
_MARK_CHECKED = f"UPDATE videos SET last_checked_ms = ? WHERE video_id = ? AND {_NOT_OLDER}"
_ADD_RELATED = (
    "INSERT INTO related (src_id, dst_id, seq)"
    " VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM related WHERE src_id = ?))"
    " ON CONFLICT (src_id, dst_id) DO NOTHING"
)
_SAVE_CURSOR = (
    f"INSERT INTO user_cursors (user_id, network, cursor, updated_ms) VALUES (?, ?, ?, {NOW_MS['sqlite']})"
    " ON CONFLICT (user_id, network) DO UPDATE SET cursor = excluded.cursor, updated_ms = excluded.updated_ms"
)


def stored_video(row: Sequence[Any]) -> StoredVideo:
    """A row of _COLUMNS as a StoredVideo (stale is 0/1 in SQL)."""
    video_id, url, title, channel, duration_s, first_seen_ms, last_checked_ms, stale, reason = row
    return StoredVideo(video_id, url, title, channel, duration_s, first_seen_ms, last_checked_ms, bool(stale), reason)


def in_time_order(results: Sequence[CheckResult]) -> list[CheckResult]:
    """Checks oldest first: then applying them one by one gives the same end state whatever the batch order,
    and the earliest dead check's reason is the one kept."""
    return sorted(results, key=lambda result: result.checked_ms)


class SQLiteVideoIndex:
    """The VideoIndex port on SQLite. Call migrate() (open_index does) before anything else."""

    def __init__(self, path: str | Path) -> None:
        self._file = SQLiteFile(path)
        self.path = self._file.path
        self._db, self._lock = self._file.db, self._file.lock

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._file.write()

    def _read(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        return self._file.read(sql, args)

    def migrate(self) -> int:
        with self._lock:
            return migrate_sqlite(self._db)

    def upsert_videos(self, videos: Sequence[VideoRecord]) -> int:
        rows = [(v.video_id, v.url, v.title, v.channel, v.duration_s, v.seen_ms) for v in videos]
        with self._write() as db:
            new = db.executemany(_INSERT_NEW, rows).rowcount
            db.executemany(_FILL_METADATA, [row for row in rows if row[2] is not None])
        return new

    def get(self, video_ids: Sequence[str]) -> dict[str, StoredVideo]:
        found: dict[str, StoredVideo] = {}
        ids = list(dict.fromkeys(video_ids))
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            sql = f"SELECT {_COLUMNS} FROM videos WHERE video_id IN ({', '.join('?' * len(chunk))})"
            found.update((row[0], stored_video(row)) for row in self._read(sql, chunk))
        return found

    def due_for_check(self, before_ms: int, limit: int) -> list[StoredVideo]:
        # NULL sorts first in SQLite: never-checked videos lead, and the videos_due index gives this order.
        sql = (
            f"SELECT {_COLUMNS} FROM videos WHERE stale = 0 AND (last_checked_ms IS NULL OR last_checked_ms < ?)"
            " ORDER BY last_checked_ms, video_id LIMIT ?"
        )
        return [stored_video(row) for row in self._read(sql, (before_ms, max(limit, 0)))]

    def record_checks(self, results: Sequence[CheckResult]) -> int:
        ordered = in_time_order(results)
        dead = [(r.reason, r.checked_ms, r.video_id, r.checked_ms) for r in ordered if r.outcome == "dead"]
        with self._write() as db:
            became_stale = db.executemany(_MARK_STALE, dead).rowcount
            db.executemany(_MARK_CHECKED, [(r.checked_ms, r.video_id, r.checked_ms) for r in ordered])
        return became_stale

    def add_related(self, src_id: str, dst_ids: Sequence[str]) -> int:
        with self._write() as db:
            return db.executemany(_ADD_RELATED, [(src_id, dst_id, src_id) for dst_id in dst_ids]).rowcount

    def related(self, src_id: str) -> list[str]:
        rows = self._read("SELECT dst_id FROM related WHERE src_id = ? ORDER BY seq", (src_id,))
        return [row[0] for row in rows]

    def cursor(self, user_id: str, network: str) -> str | None:
        rows = self._read("SELECT cursor FROM user_cursors WHERE user_id = ? AND network = ?", (user_id, network))
        return rows[0][0] if rows else None

    def save_cursor(self, user_id: str, network: str, cursor: str) -> None:
        with self._write() as db:
            db.execute(_SAVE_CURSOR, (user_id, network, cursor))

    def count(self, stale: bool | None = None) -> int:
        if stale is None:
            return int(self._read("SELECT COUNT(*) FROM videos")[0][0])
        return int(self._read("SELECT COUNT(*) FROM videos WHERE stale = ?", (int(stale),))[0][0])

    def close(self) -> None:
        self._file.close()
