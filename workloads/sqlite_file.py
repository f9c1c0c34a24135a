"""One SQLite file as the packs' embedded stores use it (the index, the rankings): WAL, so readers never wait
for a writer; a busy timeout, so several processes on one machine take turns; every write one
BEGIN IMMEDIATE transaction; one connection per store object, shared by its threads under a lock."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_S = 30.0


class SQLiteFile:
    def __init__(self, path: str | Path) -> None:
        self.path = os.fspath(path)
        if self.path != ":memory:":  # the embedded default must work in a fresh directory
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; each write says BEGIN IMMEDIATE itself.
        self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.lock = threading.Lock()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

    def read(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self.lock:
            self.db.close()
