"""The CrawlState port on one SQLite file: the embedded default (see workloads.crawl_state.base for the contract).

Tables, all keyed by the crawl's integer id (so a seen row is the 11-character id and a small integer, not the
crawl's name again):

    crawls        one row per crawl: name, caps, started_ms, finished_ms, the totals claimed and done,
                  cut_by_depth, cut_by_cap, and the seeds start claimed (JSON)
    crawl_seen    (crawl, video): every claimed video; the primary key is the exact dedupe
    crawl_claims  (crawl, parent) -> JSON list of the children the parent claimed (possibly empty)
    crawl_done    (crawl, video): finished videos
    crawl_depths  (crawl, depth) -> claimed, done

Dedupe "bloom" is accepted and stored as asked (summary() gives the caps back) but kept exact, in crawl_seen:
a Bloom filter saves memory on Redis, while here the ids sit on disk, and an exact table never skips a video.

The file may be the rankings' (open_crawl_state puts the tables there): the names do not collide. Every
operation is one transaction: writes are BEGIN IMMEDIATE in WAL mode (workloads.sqlite_file), so several
processes may share the file and the test-and-set of a claim is atomic across them; a read is one statement,
so it reads one snapshot. One object holds one connection, guarded by a lock.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workloads.crawl_state.base import ClaimResult, CrawlCaps, CrawlSummary, FinishResult
from workloads.crawl_state.rules import check_caps, check_depth, check_name, depth_counts, distinct, seeds_to_claim
from workloads.sqlite_file import SQLiteFile

CHUNK = 500  # videos per IN (...) list

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS crawls (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " max_depth INTEGER NOT NULL, max_videos INTEGER NOT NULL, dedupe TEXT NOT NULL, bloom_error REAL NOT NULL,"
    " started_ms INTEGER NOT NULL, finished_ms INTEGER, claimed INTEGER NOT NULL, done INTEGER NOT NULL,"
    " cut_by_depth INTEGER NOT NULL, cut_by_cap INTEGER NOT NULL, seeds TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS crawl_seen (crawl INTEGER NOT NULL, video TEXT NOT NULL,"
    " PRIMARY KEY (crawl, video)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS crawl_claims (crawl INTEGER NOT NULL, parent TEXT NOT NULL, children TEXT NOT NULL,"
    " PRIMARY KEY (crawl, parent)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS crawl_done (crawl INTEGER NOT NULL, video TEXT NOT NULL,"
    " PRIMARY KEY (crawl, video)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS crawl_depths (crawl INTEGER NOT NULL, depth INTEGER NOT NULL,"
    " claimed INTEGER NOT NULL, done INTEGER NOT NULL, PRIMARY KEY (crawl, depth)) WITHOUT ROWID",
)
TABLES = ("crawl_seen", "crawl_claims", "crawl_done", "crawl_depths", "crawls")  # crawls last: the others name it
_ADD_TO_DEPTH = (
    "INSERT INTO crawl_depths (crawl, depth, claimed, done) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (crawl, depth) DO UPDATE SET claimed = claimed + excluded.claimed, done = done + excluded.done"
)
# One statement, so one snapshot: the crawl's row beside each of its depths (or beside NULLs, before any).
_SUMMARY = (
    "SELECT c.max_depth, c.max_videos, c.dedupe, c.bloom_error, c.started_ms, c.finished_ms, c.cut_by_depth,"
    " c.cut_by_cap, d.depth, d.claimed, d.done FROM crawls c LEFT JOIN crawl_depths d ON d.crawl = c.id"
    " WHERE c.name = ?"
)


class SQLiteCrawlState:
    """The CrawlState port on SQLite; creates its tables on open."""

    def __init__(self, path: str | Path) -> None:
        self._file = SQLiteFile(path)
        self.path = self._file.path
        with self._file.write() as db:
            for statement in SCHEMA:
                db.execute(statement)

    def start(self, crawl: str, caps: CrawlCaps, seeds: Sequence[str], now_ms: int) -> list[str]:
        check_name(crawl)
        check_caps(caps)
        claimed, cut = seeds_to_claim(caps, seeds)
        with self._file.write() as db:
            row = db.execute("SELECT seeds FROM crawls WHERE name = ?", (crawl,)).fetchone()
            if row is not None:  # started before: its first caps and seeds stand
                return [str(video) for video in json.loads(row[0])]
            values = (crawl, caps.max_depth, caps.max_videos, caps.dedupe, caps.bloom_error, now_ms, len(claimed))
            crawl_id = db.execute(
                "INSERT INTO crawls (name, max_depth, max_videos, dedupe, bloom_error, started_ms, claimed, done,"
                " cut_by_depth, cut_by_cap, seeds) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
                (*values, cut, _json(claimed)),
            ).lastrowid
            db.executemany("INSERT INTO crawl_seen (crawl, video) VALUES (?, ?)", [(crawl_id, v) for v in claimed])
            db.execute(_ADD_TO_DEPTH, (crawl_id, 0, len(claimed), 0))
        return claimed

    def claim_children(self, crawl: str, parent: str, child_depth: int, candidates: Sequence[str]) -> ClaimResult:
        check_name(crawl)
        check_depth(child_depth, least=1)
        videos = distinct(candidates)
        with self._file.write() as db:
            crawl_id, max_depth, max_videos, claimed = self._row(db, crawl, "max_depth, max_videos, claimed")
            sql = "SELECT children FROM crawl_claims WHERE crawl = ? AND parent = ?"
            recorded = db.execute(sql, (crawl_id, parent)).fetchone()
            if recorded is not None:
                return ClaimResult(new=[str(video) for video in json.loads(recorded[0])], replay=True)
            if child_depth > max_depth:
                new, cut_by_depth, cut_by_cap = [], len(videos), 0
            else:
                seen = _seen_among(db, crawl_id, videos)
                unseen = [video for video in videos if video not in seen]
                room = max(max_videos - claimed, 0)
                new, cut_by_depth, cut_by_cap = unseen[:room], 0, len(unseen[room:])
                db.executemany("INSERT INTO crawl_seen (crawl, video) VALUES (?, ?)", [(crawl_id, v) for v in new])
                if new:
                    db.execute(_ADD_TO_DEPTH, (crawl_id, child_depth, len(new), 0))
            db.execute(
                "INSERT INTO crawl_claims (crawl, parent, children) VALUES (?, ?, ?)",
                (crawl_id, parent, _json(new)),
            )
            db.execute(
                "UPDATE crawls SET claimed = claimed + ?, cut_by_depth = cut_by_depth + ?,"
                " cut_by_cap = cut_by_cap + ? WHERE id = ?",
                (len(new), cut_by_depth, cut_by_cap, crawl_id),
            )
        return ClaimResult(new=new, replay=False)

    def finish(self, crawl: str, video: str, depth: int, now_ms: int) -> FinishResult:
        check_name(crawl)
        check_depth(depth, least=0)
        with self._file.write() as db:
            crawl_id, claimed, done, finished_ms = self._row(db, crawl, "claimed, done, finished_ms")
            sql = "INSERT OR IGNORE INTO crawl_done (crawl, video) VALUES (?, ?)"
            if db.execute(sql, (crawl_id, video)).rowcount == 0:
                return FinishResult(first=False, crawl_finished=False)
            db.execute(_ADD_TO_DEPTH, (crawl_id, depth, 0, 1))
            finished = finished_ms is None and done + 1 >= claimed
            db.execute(
                "UPDATE crawls SET done = done + 1, finished_ms = ? WHERE id = ?",
                (now_ms if finished else finished_ms, crawl_id),
            )
        return FinishResult(first=True, crawl_finished=finished)

    def is_done(self, crawl: str, video: str) -> bool:
        check_name(crawl)
        sql = "SELECT 1 FROM crawl_done d JOIN crawls c ON c.id = d.crawl WHERE c.name = ? AND d.video = ?"
        return bool(self._file.read(sql, (crawl, video)))

    def summary(self, crawl: str) -> CrawlSummary | None:
        check_name(crawl)
        rows = self._file.read(_SUMMARY, (crawl,))
        return _summary(crawl, rows) if rows else None

    def crawls(self) -> list[str]:
        return [str(row[0]) for row in self._file.read("SELECT name FROM crawls ORDER BY name")]

    def delete(self, crawl: str) -> None:
        check_name(crawl)
        with self._file.write() as db:
            row = db.execute("SELECT id FROM crawls WHERE name = ?", (crawl,)).fetchone()
            if row is None:
                return
            for table in TABLES:
                db.execute(f"DELETE FROM {table} WHERE {'id' if table == 'crawls' else 'crawl'} = ?", (row[0],))

    def close(self) -> None:
        self._file.close()

    @staticmethod
    def _row(db: sqlite3.Connection, crawl: str, columns: str) -> tuple[Any, ...]:
        """(id, *columns) of the crawl's row, or KeyError naming the crawl (which rolls the transaction back)."""
        row = db.execute(f"SELECT id, {columns} FROM crawls WHERE name = ?", (crawl,)).fetchone()
        if row is None:
            raise KeyError(f"unknown crawl {crawl!r}")
        return tuple(row)


def _json(videos: list[str]) -> str:
    return json.dumps(videos, separators=(",", ":"))  # compact: a byte per claimed video is worth saving


def _seen_among(db: sqlite3.Connection, crawl_id: int, videos: list[str]) -> set[str]:
    seen: set[str] = set()
    for start in range(0, len(videos), CHUNK):
        chunk = videos[start : start + CHUNK]
        sql = f"SELECT video FROM crawl_seen WHERE crawl = ? AND video IN ({', '.join('?' * len(chunk))})"
        seen.update(str(row[0]) for row in db.execute(sql, (crawl_id, *chunk)))
    return seen


def _summary(crawl: str, rows: list[Any]) -> CrawlSummary:
    max_depth, max_videos, dedupe, bloom_error, started_ms, finished_ms, cut_by_depth, cut_by_cap = rows[0][:8]
    depths = [row[8:] for row in rows if row[8] is not None]
    return CrawlSummary(
        crawl=crawl,
        caps=CrawlCaps(int(max_depth), int(max_videos), "bloom" if dedupe == "bloom" else "set", float(bloom_error)),
        started_ms=int(started_ms),
        finished_ms=None if finished_ms is None else int(finished_ms),
        depths=depth_counts({int(d): int(c) for d, c, _ in depths}, {int(d): int(n) for d, _, n in depths}),
        cut_by_depth=int(cut_by_depth),
        cut_by_cap=int(cut_by_cap),
    )
