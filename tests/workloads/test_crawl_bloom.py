"""The Bloom filter's arithmetic (workloads/crawl_state/bloom.py): sizes from the textbook formulas, positions
in range and stable. What the filter does in Redis is in contracts/test_crawl_state.py."""

from __future__ import annotations

import pytest

from workloads.crawl_state.bloom import MAX_BITS, MIN_BITS, BloomShape, bit_positions, bloom_shape, positions_arg


@pytest.mark.parametrize(
    ("videos", "error", "shape"),
    [
        (10_000_000, 0.001, BloomShape(143_775_876, 10)),  # 14.4 bits a video, 10 hashes
        (10_000_000, 0.01, BloomShape(95_850_584, 7)),  # 9.6 bits a video, 7 hashes
        (5, 0.001, BloomShape(MIN_BITS, 10)),  # a tiny crawl still gets MIN_BITS
    ],
)
def test_the_filter_is_sized_by_the_textbook_formulas(videos: int, error: float, shape: BloomShape) -> None:
    assert bloom_shape(videos, error) == shape


def test_a_filter_redis_cannot_hold_is_refused() -> None:
    assert bloom_shape(290_000_000, 0.001).bits <= MAX_BITS
    with pytest.raises(ValueError, match="2\\^32"):
        bloom_shape(300_000_000, 0.001)


def test_positions_are_in_range_stable_and_spread() -> None:
    shape = bloom_shape(10_000_000, 0.001)
    positions = bit_positions("dQw4w9WgXcQ", shape)
    assert positions == bit_positions("dQw4w9WgXcQ", shape)  # no per-process salt: every worker agrees
    assert len(positions) == len(set(positions)) == shape.hashes
    assert all(0 <= p < shape.bits for p in positions)
    assert positions != bit_positions("dQw4w9WgXcR", shape)
    assert positions_arg("dQw4w9WgXcQ", shape) == ",".join(str(p) for p in positions)
