"""A window of a trace: the jobs and market rows of a span, shifted to start at 0, opening with each node type's
market state as of the span's start; read_trace applies it when given start_s."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from autoscaler.simulate.generate import HARSH_MARKET, WEEK_S, generate_week
from autoscaler.simulate.model import Arrivals, Market, Trace
from autoscaler.simulate.traces import read_trace, window, write_trace
from tests.autoscaler.simulate.small import START, TYPES, arrivals

ARRIVAL_FIELDS = ("at_s", "job_type", "level", "tenant", "work_s", "deadline_s")
MARKET_FIELDS = ("at_s", "node_type", "price", "available", "reclaim")
NAN = np.nan


def market(*rows: tuple[float, int, float, int, float]) -> Market:
    """rows: (at_s, node type index into small.TYPES, price, available, reclaim), in time order."""
    at_s, node_type, price, available, reclaim = zip(*rows, strict=True) if rows else ((), (), (), (), ())
    return Market(
        at_s=np.array(at_s, np.float64),
        node_type=np.array(node_type, np.int32),
        price=np.array(price, np.float64),
        available=np.array(available, np.int8),
        reclaim=np.array(reclaim, np.float64),
        node_types=TYPES,
    )


def assert_same(a: object, b: object, fields: tuple[str, ...]) -> None:
    for name in fields:
        left, right = getattr(a, name), getattr(b, name)
        assert left.dtype == right.dtype, name
        np.testing.assert_array_equal(left, right, err_msg=name)  # NaN equals NaN here


def assert_same_trace(a: Trace, b: Trace) -> None:
    assert_same(a.arrivals, b.arrivals, ARRIVAL_FIELDS)
    assert_same(a.market, b.market, MARKET_FIELDS)
    assert (a.arrivals.types, a.arrivals.tenants, a.market.node_types) == (
        b.arrivals.types,
        b.arrivals.tenants,
        b.market.node_types,
    )
    assert (a.duration_s, a.start_epoch_s) == (b.duration_s, b.start_epoch_s)


def state(m: Market, at_s: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int8]]:
    """Per node type, the price (NaN: never set) and capacity (-1: never set) in force at `at_s`, rows replayed."""
    price = np.full(len(m.node_types), NAN)
    available = np.full(len(m.node_types), -1, np.int8)
    for row in np.flatnonzero(m.at_s <= at_s):
        if not np.isnan(m.price[row]):
            price[m.node_type[row]] = m.price[row]
        if m.available[row] >= 0:
            available[m.node_type[row]] = m.available[row]
    return price, available


# spot-a (0) and spot-b (1); od-a (2) has no rows
SMALL_MARKET = market(
    (0.0, 0, 0.05, 1, 0.0),
    (0.0, 1, 0.06, 1, 0.0),
    (100.0, 0, 0.07, -1, 0.0),
    (200.0, 1, NAN, 0, 0.5),
    (300.0, 0, NAN, -1, 0.2),
    (300.0, 1, 0.08, -1, 0.0),
    (400.0, 0, NAN, 0, 0.0),
)
SMALL_ARRIVALS = arrivals(
    [0.0, 150.0, 299.5, 300.0, 399.5, 400.0], [0, 1, 2, 3, 0, 1], [5.0, 6.0, 7.0, 8.0, 9.0, 10.0], deadline_s=None
)
SMALL = Trace(SMALL_ARRIVALS, SMALL_MARKET, 1000.0, START)


def test_a_window_keeps_its_span_and_opens_with_the_market_state_of_its_start() -> None:
    # When the window is 300..400 (rows at exactly 300 kept as they are; the row at 400 is after it)
    got = window(SMALL, 300.0, 100.0)
    # Then spot-a opens with its price of t = 100 and capacity of t = 0, spot-b with its capacity of t = 200
    # (its price is the row at 300's), and spot-a's reclaim at 300 is there once
    want = market(
        (0.0, 0, 0.07, 1, 0.0),
        (0.0, 1, NAN, 0, 0.0),
        (0.0, 0, NAN, -1, 0.2),
        (0.0, 1, 0.08, -1, 0.0),
    )
    assert_same(got.market, want, MARKET_FIELDS)
    assert got.market.node_types == TYPES
    assert_same(got.arrivals, sub_arrivals(SMALL_ARRIVALS, [3, 4], shift=300.0), ARRIVAL_FIELDS)
    assert (got.duration_s, got.start_epoch_s) == (100.0, START + 300.0)


def test_a_window_to_the_end_between_market_rows() -> None:
    got = window(SMALL, 150.0)
    want = market(
        (0.0, 0, 0.07, 1, 0.0),
        (0.0, 1, 0.06, 1, 0.0),
        (50.0, 1, NAN, 0, 0.5),
        (150.0, 0, NAN, -1, 0.2),
        (150.0, 1, 0.08, -1, 0.0),
        (250.0, 0, NAN, 0, 0.0),
    )
    assert_same(got.market, want, MARKET_FIELDS)
    assert_same(got.arrivals, sub_arrivals(SMALL_ARRIVALS, [1, 2, 3, 4, 5], shift=150.0), ARRIVAL_FIELDS)
    assert (got.duration_s, got.start_epoch_s) == (850.0, START + 150.0)


def sub_arrivals(a: Arrivals, rows: list[int], shift: float) -> Arrivals:
    return Arrivals(
        at_s=a.at_s[rows] - shift,
        job_type=a.job_type[rows],
        level=a.level[rows],
        tenant=a.tenant[rows],
        work_s=a.work_s[rows],
        deadline_s=a.deadline_s[rows] - shift,
        types=a.types,
        tenants=a.tenants,
    )


@pytest.fixture(scope="module")
def week() -> Trace:
    return generate_week(seed=7, jobs=100_000, shape=HARSH_MARKET)


def test_a_window_from_zero_to_the_end_is_the_trace(week: Trace) -> None:
    assert_same_trace(window(week, 0.0), week)
    assert_same_trace(window(week, 0.0, WEEK_S), week)


@pytest.mark.parametrize(
    ("start_s", "duration_s"),
    [(2 * 86400.0, 86400.0), (2 * 86400.0 + 1234.5, None), (3600.0, 600.0), (WEEK_S - 1.0, None)],
)
def test_a_window_of_a_generated_week(week: Trace, start_s: float, duration_s: float | None) -> None:
    got = window(week, start_s, duration_s)
    end = start_s + duration_s if duration_s is not None else WEEK_S
    a, m = week.arrivals, week.market
    # The jobs of the span, shifted, deadlines too
    inside = np.flatnonzero((a.at_s >= start_s) & (a.at_s < end))
    assert_same(got.arrivals, sub_arrivals(a, list(inside), shift=start_s), ARRIVAL_FIELDS)
    assert (got.arrivals.types, got.arrivals.tenants) == (a.types, a.tenants)
    # The market rows of the span, shifted, after the rows at 0 that give the state
    opening = got.market.at_s == 0
    rows = (m.at_s >= start_s) & (m.at_s < end)
    later = rows & (m.at_s > start_s)
    assert_same(sub_market(got.market, ~opening), sub_market(m, later, shift=start_s), MARKET_FIELDS)
    # At 0, each reclaim of start_s exactly once, and the state of start_s
    np.testing.assert_array_equal(
        got.market.reclaim[opening & (got.market.reclaim > 0)], m.reclaim[rows & ~later & (m.reclaim > 0)]
    )
    for name, window_state, week_state in zip(
        ("price", "available"), state(got.market, 0.0), state(m, start_s), strict=True
    ):
        np.testing.assert_array_equal(window_state, week_state, err_msg=name)
    assert (got.duration_s, got.start_epoch_s) == (end - start_s, week.start_epoch_s + start_s)


def sub_market(m: Market, rows: npt.NDArray[np.bool_], shift: float = 0.0) -> Market:
    return Market(
        at_s=m.at_s[rows] - shift,
        node_type=m.node_type[rows],
        price=m.price[rows],
        available=m.available[rows],
        reclaim=m.reclaim[rows],
        node_types=m.node_types,
    )


def test_the_market_state_through_a_window_is_the_trace_s(week: Trace) -> None:
    start_s = 4 * 86400.0 + 450.0
    got = window(week, start_s, 86400.0)
    for t in (0.0, 1.0, 299.0, 3600.0, 40_000.5, 86_399.0):
        for mine, theirs in zip(state(got.market, t), state(week.market, start_s + t), strict=True):
            np.testing.assert_array_equal(mine, theirs)


def test_the_reclaims_at_the_start_are_kept_once(week: Trace) -> None:
    # Given a step of the harsh week where a zone goes out, reclaiming every spot node in it
    m = week.market
    start_s = float(m.at_s[np.flatnonzero((m.reclaim == 1.0) & (m.at_s > 86400))[0]])
    at_start = m.at_s == start_s
    # When the window starts there
    got = window(week, start_s, 3600.0)
    # Then its rows at 0 reclaim what the week's rows at start_s do, once each, in the same order
    opening = got.market.at_s == 0
    reclaimed = got.market.reclaim > 0
    assert_same(
        sub_market(got.market, opening & reclaimed),
        sub_market(m, at_start & (m.reclaim > 0), start_s),
        ("node_type", "reclaim"),
    )
    assert (m.reclaim[at_start] == 1.0).sum() >= 3


def test_a_window_without_jobs_still_has_its_market() -> None:
    got = window(SMALL, 500.0, 100.0)
    assert len(got.arrivals) == 0
    assert got.arrivals.at_s.dtype == np.float64 and got.arrivals.level.dtype == np.int8
    assert_same(got.market, market((0.0, 0, 0.07, 0, 0.0), (0.0, 1, 0.08, 0, 0.0)), MARKET_FIELDS)


def test_a_window_of_a_window_is_a_window() -> None:
    assert_same_trace(window(window(SMALL, 100.0, 600.0), 200.0, 250.0), window(SMALL, 300.0, 250.0))


@pytest.mark.parametrize(
    ("start_s", "duration_s", "says"),
    [
        (-1.0, None, r"start_s must be a time within the trace, 0 <= start_s < 1000 .* got -1.0"),
        (1000.0, None, r"start_s .* got 1000.0; pass a start before the trace's end"),
        (NAN, None, "start_s"),
        (0.0, 0.0, r"duration_s must be a number of seconds > 0, got 0.0; pass None for the rest of the trace"),
        (0.0, -5.0, "duration_s"),
        (0.0, np.inf, "duration_s"),
    ],
)
def test_bad_windows(start_s: float, duration_s: float | None, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        window(SMALL, start_s, duration_s)


def test_read_trace_cuts_a_window_with_start_s(tmp_path: Path) -> None:
    paths = (tmp_path / "a.csv", tmp_path / "s.csv", tmp_path / "types.json")
    write_trace(SMALL, *paths)
    whole = read_trace(*paths, start_epoch_s=START)
    assert whole.duration_s == 400.0 + 3600.0  # the last event plus MARGIN_S
    assert_same_trace(read_trace(*paths, start_epoch_s=START, start_s=300.0, duration_s=100.0), window(whole, 300, 100))
    assert_same_trace(read_trace(*paths, start_epoch_s=START, start_s=150.0), window(whole, 150.0))
    with pytest.raises(ValueError, match="start_s"):
        read_trace(*paths, start_s=5000.0)
