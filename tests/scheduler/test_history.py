"""Log-scale histograms: bucket_of / bucket_bounds agree, buckets are contiguous and narrow, and
percentile / summarize / merge read them back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.history import TimingSummary, bucket_bounds, bucket_of, merge, percentile, summarize

TEN_DAYS_MS = 10 * 24 * 3600 * 1000

KNOWN_BUCKETS = [
    # (duration ms, bucket, bounds)
    (0, 0, (0, 0)),
    (1, 1, (1, 1)),
    (7, 7, (7, 7)),
    (15, 15, (15, 16)),
    (16, 15, (15, 16)),
    (100, 35, (95, 102)),
    (1000, 62, (959, 1022)),
    (10_000, 88, (9215, 10238)),
    (3_600_000, 156, (3_407_871, 3_670_014)),
]


@pytest.mark.parametrize(("duration", "bucket", "bounds"), KNOWN_BUCKETS)
def test_known_buckets(duration, bucket, bounds):
    assert (bucket_of(duration), bucket_bounds(bucket)) == (bucket, bounds)


def test_a_negative_duration_counts_as_zero():
    assert bucket_of(-5) == 0


def test_every_duration_up_to_300_000_lands_within_its_bucket_bounds():
    previous = 0
    for duration in range(300_000):
        bucket = bucket_of(duration)
        low, high = bucket_bounds(bucket)
        assert low <= duration <= high, (duration, bucket, low, high)
        assert bucket in (previous, previous + 1), (duration, previous, bucket)  # monotonic, no gaps
        previous = bucket


def test_buckets_are_contiguous_and_at_most_one_eighth_wide():
    for bucket in range(bucket_of(TEN_DAYS_MS) + 1):
        low, high = bucket_bounds(bucket)
        next_low, _ = bucket_bounds(bucket + 1)
        assert next_low == high + 1, bucket
        assert high - low <= 0.125 * low, (bucket, low, high)


@given(st.integers(min_value=0, max_value=TEN_DAYS_MS))
def test_bucket_of_and_bounds_agree_for_large_durations(duration):
    bucket = bucket_of(duration)
    low, high = bucket_bounds(bucket)
    assert low <= duration <= high
    assert bucket_of(low) == bucket_of(high) == bucket
    if low > 0:
        assert bucket_of(low - 1) == bucket - 1
    # a percentile read back as the bucket midpoint is within 12.5% of the true duration
    assert abs((low + high) / 2 - duration) <= 0.125 * duration


B100, B1000, B10000 = bucket_of(100), bucket_of(1000), bucket_of(10_000)  # midpoints 98.5, 990.5, 9726.5

PERCENTILES = [
    # (histogram, q, expected)
    ({}, 50, None),
    ({B100: 1}, 0, 98.5),
    ({B100: 1}, 100, 98.5),
    ({B100: 9, B1000: 1}, 50, 98.5),
    ({B100: 9, B1000: 1}, 90, 98.5),
    ({B100: 9, B1000: 1}, 91, 98.5),  # rank round(9.1) = 9
    ({B100: 9, B1000: 1}, 96, 990.5),  # rank round(9.6) = 10
    ({B100: 9, B1000: 1}, 99, 990.5),
    ({B10000: 1, B100: 1}, 50, 98.5),  # buckets are read in order, not insertion order
    ({B10000: 1, B100: 1}, 100, 9726.5),
    ({B100: 0, B1000: 2}, 1, 990.5),  # empty buckets are skipped
]


@pytest.mark.parametrize(("histogram", "q", "expected"), PERCENTILES)
def test_percentile(histogram, q, expected):
    assert percentile(histogram, q) == expected


SUMMARIES = [
    ({}, TimingSummary(0, None, None, None)),
    ({B100: 1}, TimingSummary(1, 98.5, 98.5, 98.5)),
    ({B100: 50, B1000: 45, B10000: 5}, TimingSummary(100, 98.5, 990.5, 9726.5)),
    ({B100: 98, B10000: 2}, TimingSummary(100, 98.5, 98.5, 9726.5)),
]


@pytest.mark.parametrize(("histogram", "expected"), SUMMARIES)
def test_summarize(histogram, expected):
    assert summarize(histogram) == expected


MERGES = [
    ([], {}),
    ([{}], {}),
    ([{1: 2}], {1: 2}),
    ([{1: 2, 3: 1}, {1: 1, 5: 4}, {}], {1: 3, 3: 1, 5: 4}),
    ([{7: 1}, {7: 1}, {7: 1}], {7: 3}),
]


@pytest.mark.parametrize(("histograms", "expected"), MERGES)
def test_merge(histograms, expected):
    assert merge(histograms) == expected


def test_merge_does_not_change_its_inputs():
    first, second = {1: 2}, {1: 3}
    assert merge([first, second]) == {1: 5}
    assert (first, second) == ({1: 2}, {1: 3})
