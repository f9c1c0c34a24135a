"""The crawl bench/dedupe.py replays, and the bulk load that stands in for the part of it too long to replay call
by call.

The crawl: video ids like the world's (11 base64url characters of 64 bits, here random ones: workloads.world's
generator costs microseconds an id, too slow for 10 million), claimed breadth first: call j is the j-th video
claiming its related videos, 8 to 30 candidates of which a share were seen before (drawn from every video
claimed so far) and the rest are new. Ids are claimed in order, so ids[i] has seq i: the parent of call j is
seq j.

The bulk load writes what those calls, and the finishes of their parents, would have written, through the
backend's own key names and tables: the seen ids (or their Bloom bits), the done bits of the parents that
finished, the claims of those still in flight, and the counters. bench/dedupe.py then checks that
claim_children, run on top of it, claims to max_videos exactly, and that finish, run on top of `mark_done`,
ends the crawl exactly once.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import blake2b

import numpy as np
import numpy.typing as npt
import redis

from workloads.crawl_state.bloom import BloomShape
from workloads.crawl_state.redis import CrawlKeys
from workloads.crawl_state.sqlite import DONE_BITS

ID_BYTES, ID_CHARS = 9, 11  # 9 bytes are 12 base64 digits
CHUNK = 200_000  # ids per batch of work
PARENTS_PER_COMMAND = 10_000  # a pipelined HSET (and SADD) of about 130,000 ids
U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class Call:
    parent: str
    seq: int  # the parent's
    candidates: list[str]


@dataclass(frozen=True)
class Load:
    """What a bulk load wrote: parents [0, done) finished, [done, parents) in flight with their claims kept."""

    claimed: int  # videos claimed by the bulk's parents (the seed not counted)
    parents: int
    done: int


def make_ids(count: int, seed: int) -> list[str]:
    """Random ids laid out as workloads.world.ids.video_id lays out its scrambled indexes: 64 bits, shifted left
    by 6 in 9 bytes, in base64url, the 12th digit (the 6 zero bits) dropped."""
    raw = np.random.default_rng(seed).integers(0, 256, size=(count, ID_BYTES), dtype=np.uint8)
    raw[:, 0] &= 0x3F  # the 66-bit number's 2 high bits are 0
    raw[:, -1] &= 0xC0  # and its 6 low ones
    text = base64.urlsafe_b64encode(raw.tobytes()).decode()
    return [text[at : at + ID_CHARS] for at in range(0, len(text), 12)]


def calls(
    ids: list[str], first_parent: int, first_new: int, new_count: int, seen_share: float, seed: int
) -> list[Call]:
    """Calls that offer ids[first_new : first_new + new_count] as new, in order, mixed with seen ones."""
    rng = np.random.default_rng(seed)
    out, new, parent = [], first_new, first_parent
    while new < first_new + new_count:
        size = int(rng.integers(8, 31))
        candidates = []
        for is_seen in rng.random(size) < seen_share:
            if is_seen:
                candidates.append(ids[int(rng.integers(0, new))])
            else:
                candidates.append(ids[new])
                new += 1
        out.append(Call(ids[parent], parent, candidates))
        parent += 1
    return out


def bulk_claims(ids: list[str], first: int, count: int, seen_share: float, seed: int) -> list[tuple[str, list[str]]]:
    """(parent, children claimed) of the calls that claim ids[first : first + count]; parents are ids[0], ids[1]..."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, list[str]]] = []
    at = first
    while at < first + count:
        for new in rng.binomial(rng.integers(8, 31, size=CHUNK), 1.0 - seen_share).tolist():
            take = min(new, first + count - at)
            out.append((ids[len(out)], ids[at : at + take]))
            at += take
            if at >= first + count:
                break
    return out


def hashes(ids: list[str]) -> tuple[U64, U64]:
    """(h1, h2) of every id, as workloads.crawl_state.bloom.video_hashes computes them one at a time."""
    digests = b"".join(blake2b(video.encode(), digest_size=16).digest() for video in ids)
    pairs = np.frombuffer(digests, dtype="<u8").reshape(-1, 2).astype(np.uint64)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def positions(h1: U64, h2: U64, shape: BloomShape) -> U64:
    """bit_positions for many ids at once, one row per hash (every term is below 2^38: no overflow)."""
    bits = np.uint64(shape.bits)
    steps = np.arange(shape.hashes, dtype=np.uint64)[:, None]
    return ((h1 % bits)[None, :] + steps * (h2 % bits)[None, :]) % bits


def bitmap_bits(client: redis.Redis, key: str, bits: int) -> npt.NDArray[np.uint8]:
    """A bitmap's first `bits` bits, one uint8 per bit, in Redis's order (bit 0 is the first byte's high bit);
    zeros past the string's end, as GETBIT reads them."""
    raw = client.get(key) or b""
    assert isinstance(raw, bytes)
    unpacked = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[:bits]
    return np.pad(unpacked, (0, bits - len(unpacked)))


def in_flight_split(claims: list[tuple[str, list[str]]], in_flight: int) -> Load:
    """The last `in_flight` parents of the bulk keep their claims; the ones before them have finished."""
    parents = len(claims)
    return Load(sum(len(children) for _, children in claims), parents, parents - min(in_flight, parents))


def load_redis(
    client: redis.Redis,
    keys: CrawlKeys,
    claims: list[tuple[str, list[str]]],
    bloom: tuple[U64, U64, BloomShape] | None,
    in_flight: int,
) -> Load:
    """Pipelined: the seen ids (or, given bloom = (h1, h2, shape) of the same ids, their bits), the done bits,
    the in-flight parents' claims, and the counters. The client must not decode (the bitmaps are bytes)."""
    load, firsts = in_flight_split(claims, in_flight), _first_seqs(claims)
    pipe = client.pipeline(transaction=False)
    for at in range(0, len(claims), PARENTS_PER_COMMAND):
        batch = claims[at : at + PARENTS_PER_COMMAND]
        in_flight_parents = range(max(at, load.done), at + len(batch))
        if in_flight_parents:
            pipe.hset(keys.claims, mapping={str(p): _json([firsts[p], *claims[p][1]]) for p in in_flight_parents})
        videos = [video for _, children in batch for video in children]
        if bloom is None and videos:
            pipe.sadd(keys.seen, *videos)
        pipe.execute()
    pipe.hincrby(keys.meta, "claimed", load.claimed)
    pipe.hincrby(keys.meta, "claimed:1", load.claimed)
    pipe.execute()
    if bloom is not None:
        _set_bits(client, keys.seen, *bloom)
    mark_done_redis(client, keys, 0, load.done)
    return load


def mark_done_redis(client: redis.Redis, keys: CrawlKeys, start: int, stop: int) -> None:
    """Finish seqs [start, stop) as finish would (done bits and counters; seq 0, the seed, is depth 0, the others
    depth 1), short of ending the crawl: the caller leaves at least one seq for finish itself."""
    if stop <= start:
        return
    bits = bitmap_bits(client, keys.done, -(-stop // 8) * 8)  # whole bytes: the write-back keeps later bits
    bits[start:stop] = 1
    client.setrange(keys.done, 0, np.packbits(bits).tobytes())
    seed = int(start == 0)
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(keys.meta, "done", stop - start)
    pipe.hincrby(keys.meta, "done:0", seed)
    pipe.hincrby(keys.meta, "done:1", stop - start - seed)
    pipe.execute()


def _first_seqs(claims: list[tuple[str, list[str]]]) -> list[int]:
    """Per parent, the seq of its first child: children are claimed in order, after the seed (seq 0)."""
    return [int(first) for first in np.cumsum([1] + [len(children) for _, children in claims])]


def _json(values: Sequence[int | str]) -> str:
    return json.dumps(values, separators=(",", ":"))  # as both backends write a claimed list


def _set_bits(client: redis.Redis, key: str, h1: U64, h2: U64, shape: BloomShape) -> None:
    bits = bitmap_bits(client, key, shape.bits)
    for at in range(0, len(h1), CHUNK * 5):
        bits[positions(h1[at : at + CHUNK * 5], h2[at : at + CHUNK * 5], shape).ravel()] = 1
    client.setrange(key, 0, np.packbits(bits).tobytes())


def load_sqlite(path: str, crawl: str, claims: list[tuple[str, list[str]]], in_flight: int) -> Load:
    """The same into the SQLite backend's tables, with a connection of its own: one transaction (each page goes
    to the WAL once), a large cache, no fsync. A bulk load, not the path measured."""
    db, load = _bulk_connection(path), in_flight_split(claims, in_flight)
    crawl_id = _crawl_id(db, crawl)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO crawl_seen (crawl, video) VALUES (?, ?)",
        ((crawl_id, video) for _, children in claims for video in children),
    )
    firsts = _first_seqs(claims)
    db.executemany(
        "INSERT INTO crawl_claims (crawl, parent, first, children) VALUES (?, ?, ?, ?)",
        ((crawl_id, parent, firsts[parent], _json(claims[parent][1])) for parent in range(load.done, load.parents)),
    )
    db.execute("UPDATE crawls SET claimed = claimed + ? WHERE id = ?", (load.claimed, crawl_id))
    db.execute("INSERT INTO crawl_depths (crawl, depth, claimed, done) VALUES (?, 1, ?, 0)", (crawl_id, load.claimed))
    _mark_done_sqlite(db, crawl_id, 0, load.done)
    db.execute("COMMIT")
    db.close()
    return load


def mark_done_sqlite(path: str, crawl: str, start: int, stop: int) -> None:
    """mark_done_redis for the SQLite tables: crawl_done's rows of DONE_BITS bits, and the counters."""
    db = _bulk_connection(path)
    db.execute("BEGIN")
    _mark_done_sqlite(db, _crawl_id(db, crawl), start, stop)
    db.execute("COMMIT")
    db.close()


def _mark_done_sqlite(db: sqlite3.Connection, crawl_id: int, start: int, stop: int) -> None:
    if stop <= start:
        return
    rows = -(-stop // DONE_BITS)
    bits = np.zeros((rows, DONE_BITS), dtype=np.uint8)
    for chunk, row in db.execute("SELECT chunk, bits FROM crawl_done WHERE crawl = ? AND chunk < ?", (crawl_id, rows)):
        bits[chunk] = np.unpackbits(np.frombuffer(row, dtype=np.uint8))
    bits.reshape(-1)[start:stop] = 1
    db.executemany(
        "INSERT OR REPLACE INTO crawl_done (crawl, chunk, bits) VALUES (?, ?, ?)",
        ((crawl_id, chunk, np.packbits(bits[chunk]).tobytes()) for chunk in range(start // DONE_BITS, rows)),
    )
    seed = int(start == 0)
    db.execute("UPDATE crawls SET done = done + ? WHERE id = ?", (stop - start, crawl_id))
    for depth, count in ((0, seed), (1, stop - start - seed)):
        db.execute(
            "INSERT INTO crawl_depths (crawl, depth, claimed, done) VALUES (?, ?, 0, ?)"
            " ON CONFLICT (crawl, depth) DO UPDATE SET done = done + excluded.done",
            (crawl_id, depth, count),
        )


def _bulk_connection(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA cache_size = -2000000")  # 2 GB: every page the load dirties stays in memory until COMMIT
    db.execute("PRAGMA synchronous = OFF")
    return db


def _crawl_id(db: sqlite3.Connection, crawl: str) -> int:
    return int(db.execute("SELECT id FROM crawls WHERE name = ?", (crawl,)).fetchone()[0])
