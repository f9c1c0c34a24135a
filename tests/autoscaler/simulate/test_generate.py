"""The synthetic week: deterministic per seed, and shaped as documented (seasonality, level mix, bursts, the
hourly wave, spot availability per zone, prices near a third of on-demand, zone-wide outages)."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from autoscaler.fleet import NodeType
from autoscaler.simulate.generate import (
    HOUR_S,
    WEEK_S,
    WeekShape,
    default_node_types,
    generate_week,
)
from autoscaler.simulate.model import Market, Trace
from dispatcher.markets import Market as MarketKind

JOBS = 200_000
SHAPE = WeekShape()
ARRIVAL_FIELDS = ("at_s", "job_type", "level", "tenant", "work_s", "deadline_s")
MARKET_FIELDS = ("at_s", "node_type", "price", "available", "reclaim")


@pytest.fixture(scope="module")
def week() -> Trace:
    return generate_week(seed=7, jobs=JOBS)


def seasonal(trace: Trace) -> npt.NDArray[np.bool_]:
    """Jobs drawn from the seasonal rate: not the hourly wave, not a burst."""
    a = trace.arrivals
    _, inverse, counts = np.unique(np.stack([a.at_s, a.tenant]), axis=1, return_inverse=True, return_counts=True)
    return np.asarray((a.job_type != a.types.index(SHAPE.wave_type)) & (counts[inverse] < 1000), np.bool_)


def states(market: Market, column: str) -> npt.NDArray[np.float64]:
    """Per 5-minute step (rows) and node type (columns): the price or availability in force."""
    steps = np.arange(0, WEEK_S, SHAPE.step_s)
    values = getattr(market, column).astype(np.float64)
    unchanged = np.isnan(values) if column == "price" else values < 0
    out = np.full((len(steps), len(market.node_types)), np.nan)
    for i in range(len(market.node_types)):
        rows = (market.node_type == i) & ~unchanged
        if rows.any():
            at = np.searchsorted(market.at_s[rows], steps, side="right") - 1
            out[:, i] = np.where(at >= 0, values[rows][np.maximum(at, 0)], np.nan)
    return out


def test_the_same_seed_gives_the_same_week_and_another_seed_another(week: Trace) -> None:
    again = generate_week(seed=7, jobs=JOBS)
    for name in ARRIVAL_FIELDS:
        np.testing.assert_array_equal(getattr(again.arrivals, name), getattr(week.arrivals, name))
    for name in MARKET_FIELDS:
        np.testing.assert_array_equal(getattr(again.market, name), getattr(week.market, name))
    assert (again.arrivals.types, again.arrivals.tenants) == (week.arrivals.types, week.arrivals.tenants)
    other = generate_week(seed=8, jobs=JOBS)
    assert not np.array_equal(other.arrivals.at_s, week.arrivals.at_s)
    assert not np.array_equal(other.arrivals.work_s, week.arrivals.work_s)
    assert not np.array_equal(other.market.at_s, week.market.at_s)


def digest(trace: Trace) -> str:
    """A SHA-256 of every array of the trace (bytes and dtype), its names, duration and start."""
    sha = hashlib.sha256()
    for part, fields in ((trace.arrivals, ARRIVAL_FIELDS), (trace.market, MARKET_FIELDS)):
        for name in fields:
            array = np.ascontiguousarray(getattr(part, name))
            sha.update(name.encode())
            sha.update(str(array.dtype).encode())
            sha.update(array.tobytes())
    sha.update(repr((trace.arrivals.types, trace.arrivals.tenants, trace.duration_s, trace.start_epoch_s)).encode())
    return sha.hexdigest()


def test_the_default_week_is_the_week_it_always_was(week: Trace) -> None:
    # Given the digest of generate_week(seed=7, jobs=200_000) computed before the harsh market's fields were added
    # Then the default week is the same, byte for byte: new shape fields must not move the default's draws
    assert digest(week) == "eccdd2ac7f2d8113a2bd6246521a22a8f0c8ff9b6bc3f7024c4c18146ee5b8c4"


def test_a_week_from_monday_midnight_with_the_jobs_asked_for(week: Trace) -> None:
    a = week.arrivals
    assert len(a) == JOBS
    assert week.duration_s == WEEK_S
    start = dt.datetime.fromtimestamp(week.start_epoch_s, dt.UTC)
    assert (start.weekday(), start.hour, start.minute, start.second) == (0, 0, 0, 0)
    assert np.all(np.diff(a.at_s) >= 0)
    assert a.at_s[0] >= 0 and a.at_s[-1] < WEEK_S
    assert a.job_type.dtype == np.int32 and a.level.dtype == np.int8 and a.tenant.dtype == np.int32
    assert list(a.types) == sorted(a.types) and list(a.tenants) == sorted(a.tenants)
    assert set(np.unique(a.tenant)) == set(range(len(a.tenants)))  # only tenants that submit are named


def test_level_mix_work_and_deadlines(week: Trace) -> None:
    a = week.arrivals
    fractions = np.bincount(a.level, minlength=4) / len(a)
    np.testing.assert_allclose(fractions, [0.05, 0.25, 0.30, 0.40], atol=0.01)
    after = a.deadline_s - a.at_s
    urgent = a.level == 0
    assert a.work_s[urgent].min() >= 5 and a.work_s[urgent].max() <= 60
    np.testing.assert_allclose(after[urgent], 60)
    daily = (a.level == 1) & (a.job_type != a.types.index(SHAPE.wave_type))
    np.testing.assert_allclose(after[daily], 900)
    np.testing.assert_allclose(after[a.level == 2], 3600)
    background = after[a.level == 3]
    has = ~np.isnan(background)
    np.testing.assert_allclose(background[has], 6 * 3600)
    assert 0.3 < has.mean() < 0.6
    medians = [np.median(a.work_s[(a.level == level) & seasonal(week)]) for level in range(4)]
    assert medians == sorted(medians)  # longer work at lower levels
    heavy = a.work_s[a.level == 3]
    assert heavy.mean() > 1.5 * np.median(heavy)  # heavy-tailed
    assert (a.work_s >= 0).all()


def test_seasonality_busy_sunday_evening_quiet_wednesday_night(week: Trace) -> None:
    hours = np.bincount((week.arrivals.at_s[seasonal(week)] // HOUR_S).astype(np.int64), minlength=168)
    quietest_day, quietest_hour = divmod(int(hours.argmin()), 24)
    busiest_day, busiest_hour = divmod(int(hours.argmax()), 24)
    assert quietest_day == 2 and 1 <= quietest_hour <= 5  # Wednesday, around 03:00
    assert busiest_day == 6 and 17 <= busiest_hour <= 22  # Sunday evening
    by_hour_of_day = hours.reshape(7, 24).sum(axis=0)
    assert by_hour_of_day[18:23].sum() > 3 * by_hour_of_day[1:6].sum()  # busy evenings, quiet nights


def test_a_few_tenants_submit_most(week: Trace) -> None:
    counts = np.sort(np.bincount(week.arrivals.tenant[seasonal(week)]))[::-1]
    assert counts[:10].sum() > 0.35 * counts.sum()
    assert len(counts) > 1000


def test_the_hourly_wave_at_minute_zero(week: Trace) -> None:
    a = week.arrivals
    wave = a.job_type == a.types.index(SHAPE.wave_type)
    assert wave.sum() == 168 * SHAPE.wave_jobs
    np.testing.assert_array_equal(np.bincount((a.at_s[wave] // HOUR_S).astype(np.int64)), [SHAPE.wave_jobs] * 168)
    assert (a.at_s[wave] % HOUR_S == 0).all()
    assert (a.level[wave] == 1).all()
    np.testing.assert_allclose(a.deadline_s[wave] - a.at_s[wave], 300)
    assert a.work_s[wave].min() >= 20 and a.work_s[wave].max() <= 60
    assert {a.tenants[t] for t in a.tenant[wave]} == {"cron"}


def test_bursts_one_tenant_queues_ten_thousand_jobs_at_once(week: Trace) -> None:
    a = week.arrivals
    keys, inverse, counts = np.unique(np.stack([a.at_s, a.tenant]), axis=1, return_inverse=True, return_counts=True)
    bursts = np.flatnonzero(counts >= 10_000)
    assert len(bursts) == SHAPE.bursts
    for burst in bursts:
        rows = inverse == burst
        assert rows.sum() == 10_000
        assert (a.level[rows] == 3).all()
        assert a.tenants[int(keys[1, burst])] != "cron"


def test_default_node_types() -> None:
    types = default_node_types()
    spot = [t for t in types if t.market is MarketKind.SPOT]
    ondemand = [t for t in types if t.market is MarketKind.ON_DEMAND]
    assert len({t.instance_type for t in spot}) >= 3 and len({t.zone for t in spot}) == 3
    assert len(spot) == 9 and [t.name for t in ondemand] == ["od-m5xl-a"]
    assert len({t.name for t in types}) == len(types) and len({t.resource for t in types}) == len(types)
    assert next(t for t in types if t.name == "spot-m5xl-a").ondemand_price == 0.192
    assert next(t for t in types if t.name == "spot-m52xl-b").slots == 8


def test_market_rows_only_on_change_for_spot_types(week: Trace) -> None:
    m = week.market
    assert m.node_types == default_node_types()
    assert np.all(np.diff(m.at_s) >= 0)
    assert all(m.node_types[i].market is MarketKind.SPOT for i in np.unique(m.node_type))
    assert np.all(m.at_s % SHAPE.step_s == 0)
    assert not np.any(np.isnan(m.price) & (m.available < 0) & (m.reclaim == 0))  # every row changes something
    first = m.at_s == 0  # every spot type starts with a price and capacity (or not)
    assert sorted(m.node_type[first]) == [i for i, t in enumerate(m.node_types) if t.market is MarketKind.SPOT]
    assert not np.isnan(m.price[first]).any() and (m.available[first] >= 0).all()
    for i in np.unique(m.node_type):
        prices = m.price[(m.node_type == i) & ~np.isnan(m.price)]
        assert (prices[1:] != prices[:-1]).all()
        flags = m.available[(m.node_type == i) & (m.available >= 0)]
        assert (flags[1:] != flags[:-1]).all()


def test_availability_per_zone_within_10_to_85_percent(week: Trace) -> None:
    up = states(week.market, "available")
    spot = [i for i, t in enumerate(week.market.node_types) if t.market is MarketKind.SPOT]
    zones = sorted({week.market.node_types[i].zone for i in spot})
    shares = []
    for zone in zones:
        columns = [i for i in spot if week.market.node_types[i].zone == zone]
        zone_share = (up[:, columns] == 1).any(axis=1).mean()
        assert 0.10 <= zone_share <= 0.85, zone
        for i in columns:
            assert 0.05 <= (up[:, i] == 1).mean() <= 0.85
        shares.append(zone_share)
    assert max(shares) - min(shares) > 0.3  # zones differ


def test_zone_wide_outages(week: Trace) -> None:
    up = states(week.market, "available") == 1
    spot = [i for i, t in enumerate(week.market.node_types) if t.market is MarketKind.SPOT]
    outages = 0
    for zone in sorted({week.market.node_types[i].zone for i in spot}):
        columns = [i for i in spot if week.market.node_types[i].zone == zone]
        zone_up = up[:, columns]
        went_out = zone_up[:-1].all(axis=1) & ~zone_up[1:].any(axis=1)  # all up, then all down at once
        outages += int(went_out.sum())
    assert outages >= 3


def test_prices_mostly_near_a_third_of_on_demand(week: Trace) -> None:
    prices = states(week.market, "price")
    ratios = []
    for i, node_type in enumerate(week.market.node_types):
        if node_type.market is MarketKind.SPOT:
            ratio = prices[:, i] / node_type.ondemand_price
            assert not np.isnan(ratio).any()
            assert 0.25 <= np.median(ratio) <= 0.42
            assert ((ratio > 0.2) & (ratio < 0.5)).mean() > 0.85
            ratios.append(ratio)
    everything = np.concatenate(ratios)
    assert (everything > 1).any()  # spikes, sometimes above on-demand
    assert (everything > 1).mean() < 0.05


def test_reclaim_waves_more_often_without_capacity(week: Trace) -> None:
    m = week.market
    assert ((m.reclaim >= 0) & (m.reclaim <= 1)).all()
    up = states(m, "available")
    steps = (m.at_s / SHAPE.step_s).astype(np.int64)
    waves = m.reclaim > 0
    assert waves.sum() >= 20
    without = up[steps[waves], m.node_type[waves]] == 0  # capacity state at the wave (after the row)
    spot = [i for i, t in enumerate(m.node_types) if t.market is MarketKind.SPOT]
    down_steps = (up[:, spot] == 0).sum()
    up_steps = (up[:, spot] == 1).sum()
    assert without.sum() / down_steps > 2 * (~without).sum() / up_steps


def test_custom_node_types_and_shape() -> None:
    types = (
        NodeType("s1", MarketKind.SPOT, "m5.large", "eu-west-1a", 2, 0.1),
        NodeType("od", MarketKind.ON_DEMAND, "m5.large", "eu-west-1a", 2, 0.1),
        NodeType("s2", MarketKind.SPOT, "c5.large", "eu-west-1a", 2, 0.09),
    )
    shape = replace(SHAPE, bursts=1, burst_jobs=1000, wave_jobs=10, zone_availability=(0.5,))
    trace = generate_week(seed=1, jobs=5000, node_types=types, shape=shape)
    assert len(trace.arrivals) == 5000
    assert trace.market.node_types == types
    assert set(np.unique(trace.market.node_type)) == {0, 2}
    up = states(trace.market, "available")
    assert abs((up[:, [0, 2]] == 1).any(axis=1).mean() - 0.5) < 0.02


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="jobs must be at least 58560"):
        generate_week(jobs=50_000)
    with pytest.raises(ValueError, match="Monday 00:00 UTC"):
        generate_week(start_epoch_s=1_794_787_200.0 + 86400)
    with pytest.raises(ValueError, match="fractions must add up to 1"):
        WeekShape(levels=SHAPE.levels[:3])


def test_generation_time_is_printed_not_asserted() -> None:
    started = time.perf_counter()
    generate_week(seed=11, jobs=JOBS)
    print(f"generate_week: {JOBS:,} jobs in {time.perf_counter() - started:.2f} s")
