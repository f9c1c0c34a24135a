"""The CrawlState port on one SQLite file: the embedded default (see workloads.crawl_state.base for the contract).

Tables, all keyed by the crawl's integer id (so a seen row is the 11-character id and a small integer, not the
crawl's name again):

    crawls        one row per crawl: name, caps, started_ms, finished_ms, the totals claimed (the claim
                  counter: the next seq) and done, cut_by_depth, cut_by_cap, and the seeds start claimed (JSON;
                  seqs 0, 1, ...)
    crawl_seen    (crawl, video): every claimed video; the primary key is the exact dedupe
    crawl_claims  (crawl, parent seq) -> first seq, JSON list of the children a parent not finished yet claimed
                  (possibly empty; their seqs run on from the first). Deleted by the parent's finish.
    crawl_done    (crawl, chunk) -> bits: the done bitmap in rows of DONE_BITS seqs, bit <seq % DONE_BITS> of
                  row <seq // DONE_BITS> set once that video is finished (high bit first, as Redis orders a
                  string's bits). A bit a video, like Redis's, and few rows for the finish that ends a crawl to
                  delete: a row per seq would cost it a delete of millions of rows under the write lock.
    crawl_depths  (crawl, depth) -> claimed, done

The finish that ends a crawl deletes its crawl_done and crawl_claims rows: a finished crawl is its crawls,
crawl_depths and crawl_seen rows alone.

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
from workloads.crawl_state.rules import (
    check_caps,
    check_depth,
    check_name,
    check_seq,
    claim_result,
    depth_counts,
    distinct,
    seeds_to_claim,
    unclaimed,
)
from workloads.sqlite_file import SQLiteFile

CHUNK = 500  # videos per IN (...) list
DONE_BITS = 1024  # seqs per crawl_done row: a 128-byte blob, small enough for a WITHOUT ROWID row

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS crawls (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " max_depth INTEGER NOT NULL, max_videos INTEGER NOT NULL, dedupe TEXT NOT NULL, bloom_error REAL NOT NULL,"
    " started_ms INTEGER NOT NULL, finished_ms INTEGER, claimed INTEGER NOT NULL, done INTEGER NOT NULL,"
    " cut_by_depth INTEGER NOT NULL, cut_by_cap INTEGER NOT NULL, seeds TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS crawl_seen (crawl INTEGER NOT NULL, video TEXT NOT NULL,"
    " PRIMARY KEY (crawl, video)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS crawl_claims (crawl INTEGER NOT NULL, parent INTEGER NOT NULL,"
    " first INTEGER NOT NULL, children TEXT NOT NULL, PRIMARY KEY (crawl, parent)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS crawl_done (crawl INTEGER NOT NULL, chunk INTEGER NOT NULL, bits BLOB NOT NULL,"
    " PRIMARY KEY (crawl, chunk)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS crawl_depths (crawl INTEGER NOT NULL, depth INTEGER NOT NULL,"
    " claimed INTEGER NOT NULL, done INTEGER NOT NULL, PRIMARY KEY (crawl, depth)) WITHOUT ROWID",
)
TABLES = ("crawl_seen", "crawl_claims", "crawl_done", "crawl_depths", "crawls")  # crawls last: the others name it
_ADD_TO_DEPTH = (
    "INSERT INTO crawl_depths (crawl, depth, claimed, done) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (crawl, depth) DO UPDATE SET claimed = claimed + excluded.claimed, done = done + excluded.done"
)
# One statement, so one snapshot: the finish that ends the crawl deletes the bits, in the same transaction as it
# sets finished_ms.
_IS_DONE = (
    "SELECT c.claimed, c.finished_ms, d.bits FROM crawls c LEFT JOIN crawl_done d ON d.crawl = c.id AND d.chunk = ?"
    " WHERE c.name = ?"
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

    def start(self, crawl: str, caps: CrawlCaps, seeds: Sequence[str], now_ms: int) -> ClaimResult:
        check_name(crawl)
        check_caps(caps)
        claimed, cut = seeds_to_claim(caps, seeds)
        with self._file.write() as db:
            row = db.execute("SELECT seeds FROM crawls WHERE name = ?", (crawl,)).fetchone()
            if row is not None:  # started before: its first caps and seeds stand
                return claim_result(json.loads(row[0]), 0, replay=True)
            values = (crawl, caps.max_depth, caps.max_videos, caps.dedupe, caps.bloom_error, now_ms, len(claimed))
            crawl_id = db.execute(
                "INSERT INTO crawls (name, max_depth, max_videos, dedupe, bloom_error, started_ms, claimed, done,"
                " cut_by_depth, cut_by_cap, seeds) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
                (*values, cut, _json(claimed)),
            ).lastrowid
            db.executemany("INSERT INTO crawl_seen (crawl, video) VALUES (?, ?)", [(crawl_id, v) for v in claimed])
            db.execute(_ADD_TO_DEPTH, (crawl_id, 0, len(claimed), 0))
        return claim_result(claimed, 0, replay=False)

    def claim_children(self, crawl: str, parent_seq: int, child_depth: int, candidates: Sequence[str]) -> ClaimResult:
        check_name(crawl)
        check_seq(parent_seq)
        check_depth(child_depth, least=1)
        videos = distinct(candidates)
        with self._file.write() as db:
            columns = "max_depth, max_videos, claimed, finished_ms"
            crawl_id, max_depth, max_videos, claimed, finished_ms = self._row(db, crawl, columns)
            if parent_seq >= claimed:
                raise unclaimed(crawl, parent_seq)
            # A finished parent (or crawl): the run that finished it queued its children already, so a duplicate
            # delivery gets nothing to queue, and must not claim again now that the parent's record is gone.
            if finished_ms is not None or _bit(_done_bits(db, crawl_id, parent_seq), parent_seq):
                return claim_result([], claimed, replay=True)
            sql = "SELECT first, children FROM crawl_claims WHERE crawl = ? AND parent = ?"
            recorded = db.execute(sql, (crawl_id, parent_seq)).fetchone()
            if recorded is not None:
                return claim_result(json.loads(recorded[1]), int(recorded[0]), replay=True)
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
                "INSERT INTO crawl_claims (crawl, parent, first, children) VALUES (?, ?, ?, ?)",
                (crawl_id, parent_seq, claimed, _json(new)),
            )
            db.execute(
                "UPDATE crawls SET claimed = claimed + ?, cut_by_depth = cut_by_depth + ?,"
                " cut_by_cap = cut_by_cap + ? WHERE id = ?",
                (len(new), cut_by_depth, cut_by_cap, crawl_id),
            )
        return claim_result(new, claimed, replay=False)

    def finish(self, crawl: str, seq: int, depth: int, now_ms: int) -> FinishResult:
        check_name(crawl)
        check_seq(seq)
        check_depth(depth, least=0)
        with self._file.write() as db:
            crawl_id, claimed, done, finished_ms = self._row(db, crawl, "claimed, done, finished_ms")
            if seq >= claimed:
                raise unclaimed(crawl, seq)
            # A finished crawl: every seq is done, though the bitmap that said so is gone.
            if finished_ms is not None or not _set_done(db, crawl_id, seq):
                return FinishResult(first=False, crawl_finished=False)
            db.execute("DELETE FROM crawl_claims WHERE crawl = ? AND parent = ?", (crawl_id, seq))
            db.execute(_ADD_TO_DEPTH, (crawl_id, depth, 0, 1))
            finished = done + 1 >= claimed
            sql = "UPDATE crawls SET done = done + 1, finished_ms = ? WHERE id = ?"
            db.execute(sql, (now_ms if finished else None, crawl_id))
            if finished:  # every seq is done, and stays so: no parent can claim again
                for table in ("crawl_done", "crawl_claims"):
                    db.execute(f"DELETE FROM {table} WHERE crawl = ?", (crawl_id,))
        return FinishResult(first=True, crawl_finished=finished)

    def is_done(self, crawl: str, seq: int) -> bool:
        check_name(crawl)
        check_seq(seq)
        rows = self._file.read(_IS_DONE, (seq // DONE_BITS, crawl))
        if not rows:
            return False
        claimed, finished_ms, bits = rows[0]
        if seq >= claimed:
            raise unclaimed(crawl, seq)
        return finished_ms is not None or _bit(bits, seq)

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


def _done_bits(db: sqlite3.Connection, crawl_id: int, seq: int) -> bytes | None:
    """The crawl_done row's bitmap that holds seq's bit, or None while none of its seqs is done."""
    sql = "SELECT bits FROM crawl_done WHERE crawl = ? AND chunk = ?"
    row = db.execute(sql, (crawl_id, seq // DONE_BITS)).fetchone()
    return None if row is None else bytes(row[0])


def _mask(seq: int) -> tuple[int, int]:
    """(byte, mask) of seq's bit in its row: high bit first, as Redis orders a string's bits."""
    at = seq % DONE_BITS
    return at // 8, 0x80 >> at % 8


def _bit(bits: bytes | None, seq: int) -> bool:
    byte, mask = _mask(seq)
    return bits is not None and bool(bits[byte] & mask)


def _set_done(db: sqlite3.Connection, crawl_id: int, seq: int) -> bool:
    """Set seq's done bit; True when it was clear (this is the video's first finish)."""
    bits = _done_bits(db, crawl_id, seq)
    if _bit(bits, seq):
        return False
    byte, mask = _mask(seq)
    row = bytearray(bits if bits is not None else DONE_BITS // 8)
    row[byte] |= mask
    sql = "INSERT OR REPLACE INTO crawl_done (crawl, chunk, bits) VALUES (?, ?, ?)"
    db.execute(sql, (crawl_id, seq // DONE_BITS, bytes(row)))
    return True


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
