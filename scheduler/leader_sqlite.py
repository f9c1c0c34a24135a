"""The leader lease on SQLite: a row per lease in the job store's own file, taken and renewed in one
`BEGIN IMMEDIATE` transaction each, so SQLite's write lock serialises heads (processes on one machine).

SQLite is one machine, so the lease is timed on that machine's clock (`clock`, the wall clock unless a test
moves it): every head using the file reads the same one. Tables (created if missing):

    leader_lease   name -> holder, token, expires_ms   (a released lease keeps its row and token, holder '')
    leader_memory  seq, name, at_ms, kind, data        (the leader's memory, pruned on every write)
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from scheduler.clock import Clock, SystemClock
from scheduler.errors import StoreUnavailableError
from scheduler.leader import (
    DEFAULT_LEASE,
    MEMORY_LIMIT,
    LeaseHolder,
    MemoryEntry,
    NotLeaderError,
    check_entries,
    check_ttl,
)
from scheduler.sqlite_schema import connect

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS leader_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL,"
    " token INTEGER NOT NULL, expires_ms INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS leader_memory (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS leader_memory_by_time ON leader_memory (name, at_ms)",
)


class SQLiteLeaderLease:
    """The LeaderLease port (scheduler.leader) on one SQLite file, with a connection of its own (shared by
    threads one at a time)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        name: str = DEFAULT_LEASE,
        clock: Clock | None = None,
        synchronous: str = "FULL",
    ) -> None:
        self.path = os.fspath(path)
        self.name = name
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._db = connect(self.path, synchronous)
        with self._write():
            for statement in _SCHEMA:
                self._db.execute(statement)

    def acquire(self, holder: str, ttl_ms: int) -> int | None:
        check_ttl(ttl_ms)
        with self._write():
            now = self.clock.now_ms()
            row = self._lease()
            if row is not None and row.holder == holder and row.expires_ms > now:
                self._set(holder, row.token, now + ttl_ms)
                return row.token
            if row is not None and row.holder and row.expires_ms > now:
                return None
            token = (row.token if row is not None else 0) + 1  # the lease changes hands: a new fencing token
            self._set(holder, token, now + ttl_ms)
            return token

    def renew(self, holder: str, token: int, ttl_ms: int) -> bool:
        check_ttl(ttl_ms)
        with self._write():
            now = self.clock.now_ms()
            if not self._held(holder, token, now):
                return False
            self._set(holder, token, now + ttl_ms)
            return True

    def release(self, holder: str, token: int) -> bool:
        with self._write():
            if not self._held(holder, token, self.clock.now_ms()):
                return False
            self._set("", token, 0)
            return True

    def current(self) -> LeaseHolder | None:
        with self._read():
            row = self._lease()
        if row is None or not row.holder or row.expires_ms <= self.clock.now_ms():
            return None
        return LeaseHolder(row.holder, row.token)

    def remember(self, token: int, entries: Sequence[MemoryEntry], keep_ms: int) -> None:
        check_entries(entries)
        with self._write():
            now = self.clock.now_ms()
            row = self._lease()
            if row is None or row.token != token or not row.holder or row.expires_ms <= now:
                raise NotLeaderError(f"fencing token {token} no longer holds the leader lease; nothing written")
            self._db.executemany(
                "INSERT INTO leader_memory (name, at_ms, kind, data) VALUES (?, ?, ?, ?)",
                [(self.name, entry.at_ms, entry.kind, entry.data) for entry in entries],
            )
            self._db.execute("DELETE FROM leader_memory WHERE name = ? AND at_ms < ?", (self.name, now - keep_ms))
            self._db.execute(
                "DELETE FROM leader_memory WHERE name = ? AND seq <= (SELECT seq FROM leader_memory WHERE name = ?"
                " ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (self.name, self.name, MEMORY_LIMIT),
            )

    def recall(self) -> list[MemoryEntry]:
        sql = "SELECT at_ms, kind, data FROM leader_memory WHERE name = ? ORDER BY seq DESC LIMIT ?"
        with self._read():
            rows = self._db.execute(sql, (self.name, MEMORY_LIMIT)).fetchall()
        return [MemoryEntry(int(at_ms), str(kind), str(data)) for at_ms, kind, data in reversed(rows)]

    def close(self) -> None:
        self._db.close()

    # -- internals ---------------------------------------------------------------------------------------

    def _lease(self) -> _Row | None:
        row = self._db.execute(
            "SELECT holder, token, expires_ms FROM leader_lease WHERE name = ?", (self.name,)
        ).fetchone()
        return None if row is None else _Row(str(row[0]), int(row[1]), int(row[2]))

    def _held(self, holder: str, token: int, now_ms: int) -> bool:
        row = self._lease()
        return row is not None and row.holder == holder and row.token == token and row.expires_ms > now_ms

    def _set(self, holder: str, token: int, expires_ms: int) -> None:
        self._db.execute(
            "INSERT INTO leader_lease (name, holder, token, expires_ms) VALUES (?, ?, ?, ?) ON CONFLICT (name)"
            " DO UPDATE SET holder = excluded.holder, token = excluded.token, expires_ms = excluded.expires_ms",
            (self.name, holder, token, expires_ms),
        )

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction holding SQLite's write lock: committed at the end, rolled back if it raises."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as err:
                raise StoreUnavailableError(f"SQLite store {self.path!r} is busy: {err}") from err
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException as err:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(err, sqlite3.OperationalError):
                    raise StoreUnavailableError(f"SQLite store {self.path!r}: {err}") from err
                raise

    @contextmanager
    def _read(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except sqlite3.OperationalError as err:
                raise StoreUnavailableError(f"SQLite store {self.path!r}: {err}") from err


@dataclass(frozen=True, slots=True)
class _Row:
    holder: str  # '' once released
    token: int
    expires_ms: int
