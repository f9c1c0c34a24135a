"""The Rankings port on one SQLite file: the embedded default (see workloads.rankings.base for the contract).

One table, `rankings(name, member, score)`, keyed by (name, member). An index on member serves
remove_everywhere; one on (name, score DESC, member) gives top()'s order, ties included, and finds the members
beyond max_len to drop. The file may be the video index's: the table names do not collide.

Like the index, writes are BEGIN IMMEDIATE transactions in WAL mode, so several processes may share the
file and add() counts new members exactly. One object holds one connection, guarded by a lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from workloads.rankings.base import DEFAULT_MAX_LEN
from workloads.sqlite_file import SQLiteFile

CHUNK = 500  # members per IN (...) list

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rankings (name TEXT NOT NULL, member TEXT NOT NULL, score REAL NOT NULL,"
    " PRIMARY KEY (name, member)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS rankings_member ON rankings (member)",
    "CREATE INDEX IF NOT EXISTS rankings_order ON rankings (name, score DESC, member)",
)
_UPSERT = (
    "INSERT INTO rankings (name, member, score) VALUES (?, ?, ?)"
    " ON CONFLICT (name, member) DO UPDATE SET score = excluded.score"
)
_TOP = "SELECT member, score FROM rankings WHERE name = ? ORDER BY score DESC, member LIMIT ?"
_TRIM = (
    "DELETE FROM rankings WHERE name = ? AND member IN"
    " (SELECT member FROM rankings WHERE name = ? ORDER BY score DESC, member LIMIT -1 OFFSET ?)"
)


class SQLiteRankings:
    """The Rankings port on SQLite; creates its table on open."""

    def __init__(self, path: str | Path, max_len: int = DEFAULT_MAX_LEN) -> None:
        if max_len < 1:
            raise ValueError(f"max_len must be at least 1, got {max_len}")
        self.max_len = max_len
        self._file = SQLiteFile(path)
        self.path = self._file.path
        self._db, self._lock = self._file.db, self._file.lock
        with self._write() as db:
            for statement in SCHEMA:
                db.execute(statement)

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._file.write()

    def _size(self, name: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM rankings WHERE name = ?", (name,)).fetchone()[0])

    def add(self, name: str, scores: Mapping[str, float]) -> int:
        if not scores:
            return 0
        with self._write() as db:
            before = self._size(name)
            db.executemany(_UPSERT, [(name, member, float(score)) for member, score in scores.items()])
            after = self._size(name)
            if after > self.max_len:
                db.execute(_TRIM, (name, name, self.max_len))
        return after - before  # counted before trimming, as Redis's ZADD does

    def replace(self, name: str, scores: Mapping[str, float]) -> None:
        # One transaction: in WAL mode a reader's snapshot holds the old rows or the new ones, never neither.
        with self._write() as db:
            db.execute("DELETE FROM rankings WHERE name = ?", (name,))
            db.executemany(_UPSERT, [(name, member, float(score)) for member, score in scores.items()])
            if len(scores) > self.max_len:
                db.execute(_TRIM, (name, name, self.max_len))

    def top(self, name: str, n: int) -> list[tuple[str, float]]:
        with self._lock:
            rows: list[Any] = self._db.execute(_TOP, (name, max(n, 0))).fetchall()
        return [(str(member), float(score)) for member, score in rows]

    def remove_everywhere(self, members: Sequence[str]) -> int:
        unique = list(dict.fromkeys(members))
        removed = 0
        with self._write() as db:
            for start in range(0, len(unique), CHUNK):
                chunk = unique[start : start + CHUNK]
                sql = f"DELETE FROM rankings WHERE member IN ({', '.join('?' * len(chunk))})"
                removed += db.execute(sql, chunk).rowcount
        return removed

    def delete(self, name: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM rankings WHERE name = ?", (name,))

    def names(self, prefix: str = "") -> list[str]:
        # substr, not LIKE: LIKE is case-insensitive and gives meaning to % and _ in the prefix.
        sql = "SELECT DISTINCT name FROM rankings WHERE substr(name, 1, ?) = ? ORDER BY name"
        with self._lock:
            return [str(row[0]) for row in self._db.execute(sql, (len(prefix), prefix))]

    def close(self) -> None:
        self._file.close()
