"""The crawl bench/dedupe.py replays, and the bulk load that stands in for the part of it too long to replay call
by call.

The crawl: video ids like the world's (11 base64url characters of 64 bits, here random ones: workloads.world's
generator costs microseconds an id, too slow for 10 million), claimed breadth first: call j is the j-th video
claiming its related videos, 8 to 30 candidates of which a share were seen before (drawn from every video
claimed so far) and the rest are new.

The bulk load writes what those calls would have written, through the backend's own key names and tables:
the seen ids (or their Bloom bits), each parent's claimed list, and the counters. bench/dedupe.py then checks
that claim_children, run on top of it, claims to max_videos exactly.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import dataclass
from hashlib import blake2b

import numpy as np
import numpy.typing as npt
import redis

from workloads.crawl_state.bloom import BloomShape
from workloads.crawl_state.redis import CrawlKeys

ID_BYTES, ID_CHARS = 9, 11  # 9 bytes are 12 base64 digits
CHUNK = 200_000  # ids per batch of work
PARENTS_PER_COMMAND = 10_000  # a pipelined HSET (and SADD) of about 130,000 ids
U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class Call:
    parent: str
    candidates: list[str]


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
        out.append(Call(ids[parent], candidates))
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


def bitmap_bits(client: redis.Redis, key: str, shape: BloomShape) -> npt.NDArray[np.uint8]:
    """The filter's bits, one uint8 per bit, in Redis's order (bit 0 is the first byte's high bit)."""
    raw = client.get(key)
    assert isinstance(raw, bytes)
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[: shape.bits]


def load_redis(
    client: redis.Redis, keys: CrawlKeys, claims: list[tuple[str, list[str]]], bloom: tuple[U64, U64, BloomShape] | None
) -> int:
    """Pipelined: the seen ids (or, given bloom = (h1, h2, shape) of the same ids, their bits), the claimed
    lists and the counters. The client must not decode (the bitmap is bytes). Returns how many were loaded."""
    pipe = client.pipeline(transaction=False)
    for at in range(0, len(claims), PARENTS_PER_COMMAND):
        batch = claims[at : at + PARENTS_PER_COMMAND]
        pipe.hset(keys.claims, mapping={parent: _json(children) for parent, children in batch})
        videos = [video for _, children in batch for video in children]
        if bloom is None and videos:
            pipe.sadd(keys.seen, *videos)
        pipe.execute()
    loaded = sum(len(children) for _, children in claims)
    pipe.hincrby(keys.meta, "claimed", loaded)
    pipe.hincrby(keys.meta, "claimed:1", loaded)
    pipe.execute()
    if bloom is not None:
        _set_bits(client, keys.seen, *bloom)
    return loaded


def _json(videos: list[str]) -> str:
    return json.dumps(videos, separators=(",", ":"))  # as both backends write a claimed list


def _set_bits(client: redis.Redis, key: str, h1: U64, h2: U64, shape: BloomShape) -> None:
    bits = bitmap_bits(client, key, shape)
    for at in range(0, len(h1), CHUNK * 5):
        bits[positions(h1[at : at + CHUNK * 5], h2[at : at + CHUNK * 5], shape).ravel()] = 1
    client.setrange(key, 0, np.packbits(bits).tobytes())


def load_sqlite(path: str, crawl: str, claims: list[tuple[str, list[str]]]) -> int:
    """The same into the SQLite backend's tables, with a connection of its own: one transaction (each page goes
    to the WAL once), a large cache, no fsync. A bulk load, not the path measured. Returns how many were loaded."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA cache_size = -2000000")  # 2 GB: every page the load dirties stays in memory until COMMIT
    db.execute("PRAGMA synchronous = OFF")
    crawl_id = db.execute("SELECT id FROM crawls WHERE name = ?", (crawl,)).fetchone()[0]
    loaded = sum(len(children) for _, children in claims)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO crawl_seen (crawl, video) VALUES (?, ?)",
        ((crawl_id, video) for _, children in claims for video in children),
    )
    db.executemany(
        "INSERT INTO crawl_claims (crawl, parent, children) VALUES (?, ?, ?)",
        ((crawl_id, parent, _json(children)) for parent, children in claims),
    )
    db.execute("UPDATE crawls SET claimed = claimed + ? WHERE id = ?", (loaded, crawl_id))
    db.execute("INSERT INTO crawl_depths (crawl, depth, claimed, done) VALUES (?, 1, ?, 0)", (crawl_id, loaded))
    db.execute("COMMIT")
    db.close()
    return loaded
