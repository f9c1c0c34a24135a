from __future__ import annotations

import pytest

from ebbflow.durations import format_duration_ms, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("90", 90), ("1.5", 1.5), ("250ms", 0.25), ("2H", 7200)],
)
def test_parse_duration_reads_units(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "-3s", "0", "0s", "s", "1e9999", "nan", "1 2"])
def test_parse_duration_refuses_with_an_example(text):
    with pytest.raises(ValueError, match="such as 30s"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "-"),
        (2.5, "2.5 ms"),
        (850, "850 ms"),
        (12_300, "12.3 s"),
        (245_000, "4m 05s"),
        (12_000_000, "3h 20m"),
        (187_200_000, "2d 4h"),
    ],
)
def test_format_duration_ms(ms, text):
    assert format_duration_ms(ms) == text
