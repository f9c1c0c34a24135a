"""Log-scale histograms for wait and run times, and percentiles read back from them.

A duration d (ms) goes to a bucket by the bit length of d+1 and the next three bits below the top one:
eight buckets per doubling, so a percentile read back is within 12.5% of the truth. The mapping uses
integers only, so the Lua scripts compute the same bucket as Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SUB_BUCKET_BITS = 3
SUB_BUCKETS = 1 << SUB_BUCKET_BITS


def bucket_of(duration_ms: int) -> int:
    value = max(duration_ms, 0) + 1
    exponent = value.bit_length() - 1
    if exponent < SUB_BUCKET_BITS:
        return value - 1
    mantissa = (value >> (exponent - SUB_BUCKET_BITS)) & (SUB_BUCKETS - 1)
    return exponent * SUB_BUCKETS + mantissa - (SUB_BUCKETS * SUB_BUCKET_BITS - SUB_BUCKETS + 1)


def bucket_bounds(bucket: int) -> tuple[int, int]:
    """The smallest and largest duration (ms) that land in `bucket`."""
    offset = SUB_BUCKETS * SUB_BUCKET_BITS - SUB_BUCKETS + 1
    if bucket < SUB_BUCKETS - 1:
        return bucket, bucket
    exponent, mantissa = divmod(bucket + offset, SUB_BUCKETS)
    low = (SUB_BUCKETS + mantissa) << (exponent - SUB_BUCKET_BITS)
    high = low + (1 << (exponent - SUB_BUCKET_BITS)) - 1
    return low - 1, high - 1


def merge(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    total: dict[int, int] = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            total[bucket] = total.get(bucket, 0) + count
    return total


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-th percentile (0..100) in ms: the midpoint of the bucket that holds it; None when empty."""
    count = sum(histogram.values())
    if count == 0:
        return None
    rank = max(1, round(q / 100 * count))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            low, high = bucket_bounds(bucket)
            return (low + high) / 2
    raise AssertionError("unreachable: rank is at most count")


@dataclass(frozen=True, slots=True)
class TimingSummary:
    count: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None


def summarize(histogram: Mapping[int, int]) -> TimingSummary:
    return TimingSummary(
        count=sum(histogram.values()),
        p50_ms=percentile(histogram, 50),
        p90_ms=percentile(histogram, 90),
        p99_ms=percentile(histogram, 99),
    )
