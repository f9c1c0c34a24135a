"""The dedupe benchmark's bulk load computes Bloom bits as the Redis backend does, writes what claims and
finishes through the CrawlState would have written, and its crawl is well formed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import redis

from bench import dedupe_load as load
from workloads.crawl_state import CrawlCaps, CrawlState, RedisCrawlState, SQLiteCrawlState
from workloads.crawl_state.bloom import bit_positions, bloom_shape


def test_vectorized_positions_are_the_backends_positions() -> None:
    # given ids and filter shapes, small and at the largest size Redis allows
    ids = load.make_ids(2000, seed=3)
    h1, h2 = load.hashes(ids)
    for shape in (bloom_shape(1000, 0.01), bloom_shape(10_000_000, 0.001), bloom_shape(290_000_000, 0.001)):
        # then numpy's positions, one row per hash, are bit_positions' for every id
        rows = load.positions(h1, h2, shape)
        assert rows.shape == (shape.hashes, len(ids))
        assert [rows[:, i].tolist() for i in range(len(ids))] == [bit_positions(video, shape) for video in ids]


def test_ids_look_like_the_worlds_and_do_not_repeat() -> None:
    ids = load.make_ids(50_000, seed=1)
    assert len(set(ids)) == len(ids)
    assert all(len(video) == 11 for video in ids)
    assert set("".join(ids)) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_the_crawls_calls_offer_every_new_id_once_in_order() -> None:
    # given the calls that offer ids 100.. as new, a third of the candidates seen before
    ids = load.make_ids(1000, seed=2)
    calls = load.calls(ids, first_parent=10, first_new=100, new_count=500, seen_share=0.3, seed=5)
    # then each call has 8 to 30 candidates, parents follow on, and the new ids come in order (the last call
    # may go past the 500), each offered after its first time only as a seen one
    offered = [ids.index(video) for call in calls for video in call.candidates]
    firsts = list(dict.fromkeys(i for i in offered if i >= 100))
    assert firsts == list(range(100, 100 + len(firsts)))
    assert 500 <= len(firsts) < 530
    assert all(8 <= len(call.candidates) <= 30 for call in calls)
    assert [call.parent for call in calls] == ids[10 : 10 + len(calls)]
    assert 0.2 < 1 - len(firsts) / len(offered) < 0.4
    # and the bulk load claims exactly its ids, in order
    bulk = load.bulk_claims(ids, first=1, count=400, seen_share=0.3, seed=5)
    assert [video for _, children in bulk for video in children] == ids[1:401]
    assert np.mean([len(children) for _, children in bulk]) > 5


@dataclass(frozen=True)
class Bulk:
    """The bench's bulk writers, bound to the store of a CrawlState."""

    write: Callable[[str, list[tuple[str, list[str]]], int], load.Load]  # (crawl, claims, in_flight)
    mark_done: Callable[[str, int, int], None]  # (crawl, start, stop)


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[CrawlState, Bulk]]:
    """A CrawlState and the bulk writers on the same fresh store: an SQLite file, or a prefix of the shared Redis
    server (everything under it deleted at the end)."""
    if request.param == "sqlite":
        path = str(tmp_path / "crawl.db")
        state = SQLiteCrawlState(path)
        yield state, Bulk(partial(load.load_sqlite, path), partial(load.mark_done_sqlite, path))
        state.close()
        return
    prefix = f"t-{uuid.uuid4().hex}:"
    raw = redis.Redis(host="127.0.0.1", port=6379)
    on_redis = RedisCrawlState(redis.Redis(host="127.0.0.1", port=6379, decode_responses=True), prefix)
    yield (
        on_redis,
        Bulk(
            lambda crawl, claims, in_flight: load.load_redis(raw, on_redis.keys(crawl), claims, None, in_flight),
            lambda crawl, start, stop: load.mark_done_redis(raw, on_redis.keys(crawl), start, stop),
        ),
    )
    on_redis.close()
    leftover = list(raw.scan_iter(match=f"{prefix}*"))
    if leftover:
        raw.delete(*leftover)
    raw.close()
    assert leftover == []


def test_the_bulk_load_writes_what_claims_and_finishes_would_have(store: tuple[CrawlState, Bulk]) -> None:
    # given the claims of a little crawl: parents ids[0] (the seed), ids[1], ... claiming ids[1..80] in order
    state, bulk = store
    ids = load.make_ids(100, seed=4)
    claims = load.bulk_claims(ids, first=1, count=80, seen_share=0.3, seed=6)
    parents, in_flight = len(claims), 2
    # when one crawl makes them through the CrawlState, each parent finishing but the last 2, and another is
    # bulk-loaded the same way
    for crawl in ("real", "bulk"):
        state.start(crawl, CrawlCaps(5, 1000), ids[:1], 1)
    for parent, (_, children) in enumerate(claims):
        assert state.claim_children("real", parent, 1, children).new == children
        if parent < parents - in_flight:
            state.finish("real", parent, 0 if parent == 0 else 1, 1)
    assert bulk.write("bulk", claims, in_flight) == load.Load(claimed=80, parents=parents, done=parents - in_flight)
    # then both say the same: counters, done seqs, and the in-flight parents' replays with their seqs
    assert_same(state)
    for parent in range(parents):
        assert state.claim_children("bulk", parent, 1, []) == state.claim_children("real", parent, 1, [])
    # and when the rest is finished, by finish alone or bulk but for the in-flight parents and the last seq
    real_ends = [state.finish("real", seq, 1, 2).crawl_finished for seq in range(parents - in_flight, 81)]
    bulk.mark_done("bulk", parents, 80)
    bulk_ends = [state.finish("bulk", seq, 1, 2).crawl_finished for seq in [*range(parents - in_flight, parents), 80]]
    # then both end at their last finish, with the same summary
    assert (real_ends[-1], bulk_ends[-1], real_ends.count(True), bulk_ends.count(True)) == (True, True, 1, 1)
    assert_same(state)
    for crawl in ("real", "bulk"):
        state.delete(crawl)


def assert_same(state: CrawlState) -> None:
    real, bulk = state.summary("real"), state.summary("bulk")
    assert real is not None and bulk is not None
    assert replace(bulk, crawl="real") == real
    assert [state.is_done("bulk", seq) for seq in range(81)] == [state.is_done("real", seq) for seq in range(81)]
