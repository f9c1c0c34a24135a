"""The dedupe benchmark's bulk load computes Bloom bits as the Redis backend does, and its crawl is well formed."""

from __future__ import annotations

import numpy as np

from bench import dedupe_load as load
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
