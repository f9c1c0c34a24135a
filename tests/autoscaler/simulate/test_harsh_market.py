"""The harsh spot market preset: the default week's arrivals, zones up 20-60% of the week, region-wide spells of
up to 8 h with every zone down at once (and no other spell with nothing to launch), and a zone that goes out
taking every spot node in it."""

from __future__ import annotations

import time
from dataclasses import fields, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from autoscaler.fleet import NodeType
from autoscaler.simulate.generate import HARSH_MARKET, HOUR_S, MARKET_SHAPES, WEEK_S, WeekShape, generate_week
from autoscaler.simulate.model import Market, Trace
from dispatcher.markets import Market as MarketKind

JOBS = 200_000
SEEDS = (7, 1, 3)
STEP_S = HARSH_MARKET.step_s
ARRIVAL_FIELDS = ("at_s", "job_type", "level", "tenant", "work_s", "deadline_s")
ARRIVAL_SHAPE = (  # the WeekShape fields that shape the arrivals; the others shape the market
    "levels",
    "daily_profile",
    "weekly_profile",
    "hourly_noise",
    "tenants",
    "tenant_exponent",
    "bursts",
    "burst_jobs",
    "wave_jobs",
    "wave_level",
    "wave_deadline_s",
    "wave_work_s",
    "wave_type",
    "wave_tenant",
)


@pytest.fixture(scope="module", params=SEEDS)
def seeded(request: pytest.FixtureRequest) -> tuple[int, Trace]:
    return request.param, generate_week(seed=request.param, jobs=JOBS, shape=HARSH_MARKET)


def available(market: Market) -> npt.NDArray[np.bool_]:
    """Per step (rows) and node type (columns): whether it has spot capacity then (False without a row before)."""
    steps = np.arange(0, WEEK_S, STEP_S)
    out = np.zeros((len(steps), len(market.node_types)), np.bool_)
    for i in np.unique(market.node_type[market.available >= 0]):
        rows = (market.node_type == i) & (market.available >= 0)
        at = np.searchsorted(market.at_s[rows], steps, side="right") - 1
        out[:, i] = (at >= 0) & (market.available[rows][np.maximum(at, 0)] == 1)
    return out


def zones(market: Market) -> dict[str, list[int]]:
    """The spot types of each zone, zones in name order."""
    spot = [i for i, t in enumerate(market.node_types) if t.market is MarketKind.SPOT]
    names = sorted({market.node_types[i].zone for i in spot})
    return {zone: [i for i in spot if market.node_types[i].zone == zone] for zone in names}


def any_up(up: npt.NDArray[np.bool_], columns: list[int]) -> npt.NDArray[np.bool_]:
    """Per step, whether any of those node types has capacity."""
    return np.asarray(up[:, columns].any(axis=1), np.bool_)


def spells(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """The lengths, in steps, of the runs of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int64), [0]]))
    return np.asarray(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1), np.int64)


def test_market_shapes_differ_from_the_default_in_the_market_only() -> None:
    assert dict(MARKET_SHAPES) == {"default": WeekShape(), "harsh": HARSH_MARKET}
    market = [f.name for f in fields(WeekShape) if f.name not in ARRIVAL_SHAPE]
    assert replace(HARSH_MARKET, **{name: getattr(WeekShape(), name) for name in market}) == WeekShape()
    assert WeekShape() != HARSH_MARKET


def test_the_same_arrivals_as_the_default_week(seeded: tuple[int, Trace]) -> None:
    seed, harsh = seeded
    default = generate_week(seed=seed, jobs=JOBS)
    for name in ARRIVAL_FIELDS:
        np.testing.assert_array_equal(getattr(harsh.arrivals, name), getattr(default.arrivals, name), err_msg=name)
    assert (harsh.arrivals.types, harsh.arrivals.tenants) == (default.arrivals.types, default.arrivals.tenants)
    assert not np.array_equal(harsh.market.at_s, default.market.at_s)


def test_zones_up_twenty_to_sixty_percent_of_the_week(seeded: tuple[int, Trace]) -> None:
    _, harsh = seeded
    up = available(harsh.market)
    shares = [float(any_up(up, columns).mean()) for columns in zones(harsh.market).values()]
    np.testing.assert_allclose(shares, HARSH_MARKET.zone_availability, atol=0.03)


def test_region_wide_spells_of_up_to_eight_hours_are_the_only_ones_with_nothing_to_launch(
    seeded: tuple[int, Trace],
) -> None:
    _, harsh = seeded
    up = available(harsh.market)
    by_zone = zones(harsh.market)
    nothing = ~any_up(up, [i for columns in by_zone.values() for i in columns])
    lengths = spells(nothing) * STEP_S
    assert lengths.max() >= 4 * HOUR_S
    assert lengths.max() <= 8 * HOUR_S + STEP_S
    assert len(lengths) <= HARSH_MARKET.region_outages  # none besides the region-wide ones
    # Every zone is down in them at once, and each zone is down on its own besides.
    for columns in by_zone.values():
        zone_down = ~any_up(up, columns)
        assert zone_down[nothing].all()
        assert (zone_down & ~nothing).any()


def test_a_zone_that_goes_out_takes_its_spot_nodes(seeded: tuple[int, Trace]) -> None:
    _, harsh = seeded
    m = harsh.market
    up = available(m)
    step = (m.at_s / STEP_S).astype(np.int64)
    outs = 0
    for columns in zones(m).values():
        zone_up = any_up(up, columns)
        whole = np.isin(m.node_type, columns) & (m.reclaim == 1.0)
        for at in np.unique(step[whole]):
            # Given a reclaim of 1.0 in the zone: every spot type in it has one then, and the zone is out
            assert sorted(m.node_type[whole & (step == at)]) == columns
            assert at > 0 and zone_up[at - 1] and not zone_up[at]
            outs += 1
    assert outs >= 3 * len(zones(m))
    # Each zone up just before a region-wide spell goes out as it starts, so loses its spot nodes then.
    nothing = ~any_up(up, [i for columns in zones(m).values() for i in columns])
    starts = np.flatnonzero(nothing[1:] & ~nothing[:-1]) + 1  # the first step of each spell after the first step
    assert len(starts) >= 1
    for at in starts:
        lost = {int(i) for i in m.node_type[(step == at) & (m.reclaim == 1.0)]}
        assert lost == {i for columns in zones(m).values() if up[at - 1, columns].any() for i in columns}


def test_one_zone_with_cover_is_down_only_in_the_region_wide_outages() -> None:
    types = (
        NodeType("s1", MarketKind.SPOT, "m5.large", "eu-west-1a", 2, 0.1),
        NodeType("s2", MarketKind.SPOT, "c5.large", "eu-west-1a", 2, 0.09),
    )
    shape = replace(HARSH_MARKET, bursts=0, wave_jobs=0, zone_availability=(0.1,), region_outages=2)
    trace = generate_week(seed=5, jobs=1000, node_types=types, shape=shape)
    nothing = ~any_up(available(trace.market), [0, 1])
    assert len(spells(nothing)) == 2
    assert all(HOUR_S <= length * STEP_S <= 8 * HOUR_S for length in spells(nothing))


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"region_outages": -1}, "region_outages must be >= 0"),
        ({"region_outage_s": (0.0, 3600.0)}, "0 < low <= high"),
        ({"region_outage_s": (7200.0, 3600.0)}, "0 < low <= high"),
        ({"region_outages": 12, "region_outage_s": (3600.0, 86400.0)}, "at most half a week"),
    ],
)
def test_bad_region_outages(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        replace(HARSH_MARKET, **changes)


def test_generation_time_is_printed_not_asserted() -> None:
    started = time.perf_counter()
    generate_week(seed=11, jobs=JOBS, shape=HARSH_MARKET)
    print(f"generate_week, harsh market: {JOBS:,} jobs in {time.perf_counter() - started:.2f} s")
