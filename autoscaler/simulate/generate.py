"""A synthetic week: job arrivals and a spot market, deterministic for a seed, vectorised with NumPy.

`generate_week()` makes the week the simulator's targets are measured on (a million jobs in well under a
second). It starts on a Monday 00:00 UTC and holds:

- arrivals whose rate follows the hour of the day (quiet at 03:00, busy in the evening) times the hour of the
  week (busiest Sunday evening, quietest early Wednesday), with some noise per hour; each job's level is drawn
  to hit `LevelShape.fraction` over the whole week, its work is lognormal per level (clipped), its deadline a
  fixed time after arrival, and its tenant Zipf-distributed (a few tenants submit most of the work);
- bursts: a few times a week one tenant queues `burst_jobs` background jobs at the same instant;
- the hourly hot-topic wave: at minute 0 of every hour, one job per WOEID (`wave_jobs`) at level daily with a
  deadline a few minutes later;
- a spot market per spot node type, on a `step_s` grid but with rows only where something changes: prices
  near `spot_price_ratio` of on-demand (a mean-reverting walk per hour, plus spikes, some above on-demand);
  capacity per zone up for `zone_availability` of the week, with zone-wide outages (every type in the zone
  loses capacity at once) and shorter outages of single types; reclaim waves at a low rate, more often while
  a type has no capacity, and often when its zone goes out.

Every rate and fraction is a field of `WeekShape` (week_shape.py, re-exported here), with the defaults
documented there.

The harsh market (`shape=HARSH_MARKET`, or `MARKET_SHAPES["harsh"]`) is the same arrivals over the market of a
scarce instance type: zones up 60, 40 and 20% of the week; three region-wide outages a week of 1-8 h each
(seeded, apart from each other) in which every zone is down at once, and outside them some spot type always has
capacity (the most available zone is drawn last and goes out only where another zone is up), so those are the
only spells with nothing to launch; and a zone that goes out takes every spot node in it (a reclaim of 1.0 of
each of its types at that step). Type outages and prices are the default's. The region-wide outages draw from a
random stream of their own, which a week without them never touches: the default week is what it always was.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from autoscaler.fleet import NodeType
from autoscaler.simulate.model import Arrivals, Market, Trace
from autoscaler.simulate.week_shape import (
    DEFAULT_DAILY_PROFILE,
    DEFAULT_LEVEL_SHAPES,
    DEFAULT_WEEKLY_PROFILE,
    HARSH_MARKET,
    HOUR_S,
    MARKET_SHAPES,
    WEEK_S,
    LevelShape,
    WeekShape,
)
from dispatcher.markets import Market as MarketKind

MONDAY_2026_11_16 = 1_794_787_200.0  # 2026-11-16T00:00:00Z, a Monday
_FIRST_MONDAY = 4 * 86400  # the Unix epoch was a Thursday

F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]  # per step of the market's grid
Rng = np.random.Generator


def default_node_types() -> tuple[NodeType, ...]:
    """Spot m5.xlarge, c5.xlarge and m5.2xlarge in us-east-1a/b/c, and on-demand m5.xlarge in us-east-1a."""
    families = (("m5xl", "m5.xlarge", 4, 0.192), ("c5xl", "c5.xlarge", 4, 0.17), ("m52xl", "m5.2xlarge", 8, 0.384))
    spot = tuple(
        NodeType(
            f"spot-{short}-{zone}",
            MarketKind.SPOT,
            instance,
            f"us-east-1{zone}",
            slots,
            price,
            f"nt-spot-{short}-{zone}",
            max_nodes=1000,
        )
        for zone in "abc"
        for short, instance, slots, price in families
    )
    ondemand = NodeType(
        "od-m5xl-a", MarketKind.ON_DEMAND, "m5.xlarge", "us-east-1a", 4, 0.192, "nt-od-m5xl-a", max_nodes=1000
    )
    return (*spot, ondemand)


def generate_week(
    seed: int = 7,
    jobs: int = 1_000_000,
    node_types: Sequence[NodeType] | None = None,
    shape: WeekShape | None = None,
    start_epoch_s: float = MONDAY_2026_11_16,
) -> Trace:
    """A synthetic week of `jobs` jobs (the hourly waves and bursts included) and its spot market for
    `node_types` (default: `default_node_types()`). The same arguments give the same arrays."""
    shape = shape if shape is not None else WeekShape()
    if (start_epoch_s - _FIRST_MONDAY) % WEEK_S != 0:
        raise ValueError(f"start_epoch_s must be a Monday 00:00 UTC, got {start_epoch_s}")
    if jobs < shape.fixed_jobs():
        raise ValueError(
            f"jobs must be at least {shape.fixed_jobs()}, the hourly waves and bursts of the shape "
            "(or make WeekShape.wave_jobs, bursts or burst_jobs smaller)"
        )
    types = tuple(node_types) if node_types is not None else default_node_types()
    # The region-wide outages draw from a stream of their own, so they are the same whatever the node types.
    arrivals_rng, burst_rng, wave_rng, market_rng, region_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)
    )
    arrivals = _arrivals(arrivals_rng, burst_rng, wave_rng, jobs, shape)
    market = _market(market_rng, _region_down(region_rng, shape), types, shape)
    checkpoints = {level.job_type: level.checkpoint_s for level in shape.levels if level.checkpoint_s is not None}
    return Trace(
        arrivals=arrivals,
        market=market,
        duration_s=float(WEEK_S),
        start_epoch_s=float(start_epoch_s),
        checkpoint_s=checkpoints,
    )


# ---------------------------------------------------------------------------------------------------- arrivals


def _arrivals(rng: Rng, burst_rng: Rng, wave_rng: Rng, jobs: int, shape: WeekShape) -> Arrivals:
    levels = shape.levels
    hours = WEEK_S // HOUR_S
    n_wave = hours * shape.wave_jobs
    n_burst = shape.bursts * shape.burst_jobs
    background = len(levels) - 1

    # The seasonal jobs: per level, what is left of its share once the waves and bursts are counted.
    want = np.array([level.fraction for level in levels]) * jobs
    want[shape.wave_level] -= n_wave
    want[background] -= n_burst
    counts = _apportion(np.maximum(want, 0), jobs - n_wave - n_burst)
    level = rng.permutation(np.repeat(np.arange(len(levels), dtype=np.int8), counts))
    n = len(level)
    at_s = _seasonal_times(rng, n, shape)
    tenant = rng.choice(shape.tenants, size=n, p=_zipf(shape.tenants, shape.tenant_exponent)).astype(np.int32) + 1
    work_s = _work(rng, level, levels)
    deadline_s = _deadlines(rng, at_s, level, levels)

    # Bursts: at whole seconds in distinct hours, not in the last six hours, each from one tenant.
    starts = np.sort(burst_rng.choice(hours - 6, size=shape.bursts, replace=False)) * HOUR_S
    burst_at = np.repeat(starts + burst_rng.integers(0, HOUR_S, shape.bursts), shape.burst_jobs).astype(np.float64)
    burst_tenant = np.repeat(burst_rng.integers(1, shape.tenants + 1, shape.bursts), shape.burst_jobs)
    burst_level = np.full(n_burst, background, np.int8)
    burst_work = _work(burst_rng, burst_level, levels)

    # The hourly wave: at minute 0 of every hour.
    wave_at = np.repeat(np.arange(hours, dtype=np.float64) * HOUR_S, shape.wave_jobs)
    low, high = shape.wave_work_s
    wave_work = np.round(wave_rng.uniform(low, high, n_wave), 3)

    type_names = [level.job_type for level in levels]
    types = tuple(sorted({*type_names, shape.wave_type}))
    level_type = np.array([types.index(name) for name in type_names], dtype=np.int32)
    tenants = (shape.wave_tenant, *(f"tenant-{k:04d}" for k in range(1, shape.tenants + 1)))
    tenant_names = tuple(sorted(tenants))  # sorted, as read_arrivals sorts names, whatever the wave's tenant is
    rank = {name: i for i, name in enumerate(tenant_names)}
    tenant_index = np.array([rank[name] for name in tenants], dtype=np.int32)

    all_at = np.concatenate([at_s, burst_at, wave_at])
    sort = np.argsort(all_at, kind="stable")
    job_type = np.concatenate(
        [level_type[level], level_type[burst_level], np.full(n_wave, types.index(shape.wave_type), np.int32)]
    )[sort]
    tenant_of = tenant_index[np.concatenate([tenant, burst_tenant, np.zeros(n_wave, np.int64)])][sort]
    used_types, job_type = _used(job_type, types)
    used_tenants, tenant_of = _used(tenant_of, tenant_names)
    return Arrivals(
        at_s=all_at[sort],
        job_type=job_type,
        level=np.concatenate([level, burst_level, np.full(n_wave, shape.wave_level, np.int8)])[sort],
        tenant=tenant_of,
        work_s=np.concatenate([work_s, burst_work, wave_work])[sort],
        deadline_s=np.concatenate([deadline_s, np.full(n_burst, np.nan), wave_at + shape.wave_deadline_s])[sort],
        types=used_types,
        tenants=used_tenants,
    )


def _used(indices: npt.NDArray[np.int32], names: tuple[str, ...]) -> tuple[tuple[str, ...], npt.NDArray[np.int32]]:
    """Only the names some row uses (still sorted), as a reader of the written file would find them."""
    used = np.flatnonzero(np.bincount(indices, minlength=len(names)))
    remap = np.zeros(len(names), np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    return tuple(names[i] for i in used), remap[indices]


def _apportion(weights: F64, total: int) -> npt.NDArray[np.int64]:
    """Integer counts adding up to `total`, in proportion to `weights` (largest remainders)."""
    if total <= 0:
        return np.zeros(len(weights), np.int64)
    if weights.sum() <= 0:
        weights = np.ones(len(weights))
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    counts[np.argsort(counts - exact, kind="stable")[:short]] += 1
    return np.asarray(counts, np.int64)


def _seasonal_times(rng: Rng, n: int, shape: WeekShape) -> F64:
    """n arrival times (to the ms, unsorted) from the week's rate: daily × weekly profile × hourly noise."""
    minutes = np.arange(WEEK_S // 60) / 60.0  # in hours from Monday 00:00
    daily_x, daily_y = zip(*shape.daily_profile, strict=True)
    weekly_x, weekly_y = zip(*shape.weekly_profile, strict=True)
    rate = np.interp(minutes % 24, daily_x, daily_y) * np.interp(minutes, weekly_x, weekly_y)
    noise = rng.lognormal(0.0, shape.hourly_noise, WEEK_S // HOUR_S) if shape.hourly_noise > 0 else None
    if noise is not None:
        rate *= np.repeat(noise, 60)
    minute = rng.choice(len(rate), size=n, p=rate / rate.sum())
    return np.round((minute + rng.random(n)) * 60.0, 3).astype(np.float64)  # sorted with the rest later


def _zipf(count: int, exponent: float) -> F64:
    weights = np.arange(1, count + 1, dtype=np.float64) ** -exponent
    return np.asarray(weights / weights.sum(), np.float64)


def _work(rng: Rng, level: npt.NDArray[np.int8], levels: tuple[LevelShape, ...]) -> F64:
    median = np.log([shape.work_median_s for shape in levels])[level]
    sigma = np.array([shape.work_sigma for shape in levels])[level]
    low = np.array([shape.work_min_s for shape in levels])[level]
    high = np.array([shape.work_max_s for shape in levels])[level]
    work = np.exp(median + sigma * rng.standard_normal(len(level)))
    return np.round(np.clip(work, low, high), 3)


def _deadlines(rng: Rng, at_s: F64, level: npt.NDArray[np.int8], levels: tuple[LevelShape, ...]) -> F64:
    after = np.array([np.nan if shape.deadline_s is None else shape.deadline_s for shape in levels])[level]
    share = np.array([shape.deadline_share for shape in levels])[level]
    after[rng.random(len(level)) >= share] = np.nan
    return np.asarray(at_s + after, np.float64)


# ---------------------------------------------------------------------------------------------------- market


def _market(rng: Rng, region: Mask, node_types: tuple[NodeType, ...], shape: WeekShape) -> Market:
    spot = [i for i, t in enumerate(node_types) if t.market is MarketKind.SPOT]
    steps = len(region)
    zone_up = _zones_up(rng, region, sorted({node_types[i].zone for i in spot}), shape)

    # A type is up when its zone is and it is (outages of its own).
    type_down = _down_steps(shape.type_availability, steps)
    in_zone = np.stack([zone_up[node_types[i].zone] for i in spot], axis=1) if spot else np.ones((steps, 0), np.bool_)
    up = in_zone.copy()
    for k in range(len(spot)):
        up[:, k] &= _up(rng, steps, type_down, shape.type_outages)
    if shape.zone_cover:  # the rare steps where each zone up has lost all its types: those types come back
        stranded = ~region & ~up.any(axis=1)
        up[stranded] = in_zone[stranded]

    price = _prices(rng, steps, [node_types[i] for i in spot], shape)

    # Reclaim waves: now and then, more often without capacity, and often as the zone goes out.
    per_step = shape.reclaim_waves_per_day * shape.step_s / 86400
    chance = np.where(up, per_step, per_step * shape.reclaim_boost)
    reclaim = np.where(rng.random(up.shape) < chance, rng.uniform(*shape.reclaim_fraction, up.shape), 0.0)
    for k, i in enumerate(spot):
        zone = zone_up[node_types[i].zone]
        outs = np.flatnonzero(zone[:-1] & ~zone[1:]) + 1
        hit = outs[rng.random(len(outs)) < shape.outage_reclaim]
        reclaim[hit, k] = rng.uniform(*shape.outage_reclaim_fraction, len(hit))
    reclaim = np.round(reclaim, 3).astype(np.float64)

    # Rows only where something changed (the first step gives every type its price and capacity).
    changed_price = np.ones_like(up)
    changed_price[1:] = price[1:] != price[:-1]
    changed_up = np.ones_like(up)
    changed_up[1:] = up[1:] != up[:-1]
    step, column = np.nonzero(changed_price | changed_up | (reclaim > 0))
    return Market(
        at_s=(step * float(shape.step_s)).astype(np.float64),
        node_type=np.array(spot, dtype=np.int32)[column] if spot else np.zeros(0, np.int32),
        price=np.where(changed_price[step, column], price[step, column], np.nan),
        available=np.where(changed_up[step, column], up[step, column].astype(np.int8), np.int8(-1)).astype(np.int8),
        reclaim=reclaim[step, column],
        node_types=node_types,
    )


def _region_down(rng: Rng, shape: WeekShape) -> Mask:
    """Per step, whether the region is down (every zone at once): `region_outages` spells apart from each other."""
    steps = int(np.ceil(WEEK_S / shape.step_s))
    if shape.region_outages == 0:
        return np.zeros(steps, np.bool_)  # no draw: a week without them is the week it always was
    seconds = rng.uniform(*shape.region_outage_s, shape.region_outages)
    return _spells(rng, steps, np.maximum(np.round(seconds / shape.step_s), 1).astype(np.int64))


def _zones_up(rng: Rng, region: Mask, zones: Sequence[str], shape: WeekShape) -> dict[str, Mask]:
    """Per zone, whether it has capacity at each step: down in every region-wide outage, and in outages of its own
    for the rest of its share of the week.

    With `zone_cover` the zones are drawn from the least available to the most, and the last one goes down only
    where another is up (it is up more than its share if that leaves it too few steps): so the region-wide
    outages are the only spells with every zone down at once. The most available zone goes last because it
    needs the fewest steps of its own down."""
    steps = len(region)
    shares = [shape.zone_availability[z % len(shape.zone_availability)] for z in range(len(zones))]
    order = sorted(range(len(zones)), key=shares.__getitem__) if shape.zone_cover else range(len(zones))
    all_down = np.ones(steps, np.bool_)  # where every zone drawn so far is down
    up: dict[str, Mask] = {}
    for k, z in enumerate(order):
        free = ~region & ~all_down if shape.zone_cover and k == len(zones) - 1 else ~region
        slots = np.flatnonzero(free)  # the steps where its own outages may fall, end to end
        own = min(max(_down_steps(shares[z], steps) - int(region.sum()), 0), len(slots))
        zone_up = ~region
        zone_up[slots] = _up(rng, len(slots), own, shape.zone_outages)
        all_down &= ~zone_up
        up[zones[z]] = zone_up
    return up


def _down_steps(share: float, steps: int) -> int:
    """The steps out of `steps` to be down for, so as to be up for at most `share` of them."""
    return int(np.ceil((1 - share) * steps - 1e-9))


def _up(rng: Rng, steps: int, down: int, outages: int) -> Mask:
    """Down for `down` of the steps, in `outages` spells of random length at random places; up the rest."""
    outages = min(max(outages, 1), down, steps - down + 1)
    if down == 0:
        return np.ones(steps, np.bool_)
    lengths = np.diff(
        np.concatenate([[0], np.sort(rng.choice(np.arange(1, down), outages - 1, replace=False)), [down]])
    )
    return ~_spells(rng, steps, lengths)


def _spells(rng: Rng, steps: int, lengths: npt.NDArray[np.int64]) -> Mask:
    """True in spells of `lengths` (in that order) at random places, with at least one step between two."""
    count = len(lengths)
    # Gaps: one between spells at least, the rest spread anywhere (before, between, after).
    spare = steps - int(lengths.sum()) - (count - 1)
    cuts = np.sort(rng.integers(0, spare + 1, count))
    gaps = np.diff(np.concatenate([[0], cuts])) + (np.arange(count) > 0)
    start = np.cumsum(gaps) + np.concatenate([[0], np.cumsum(lengths)[:-1]])
    inside = np.zeros(steps, np.bool_)
    for begin, length in zip(start, lengths, strict=True):
        inside[begin : begin + length] = True
    return inside


def _prices(rng: Rng, steps: int, spot: Sequence[NodeType], shape: WeekShape) -> F64:
    """$/hour per step and spot type: typical × a mean-reverting walk (moving every price_every_s) × spikes."""
    count = len(spot)
    typical = np.array([t.ondemand_price for t in spot]) * shape.spot_price_ratio
    typical *= rng.uniform(1 - shape.price_spread, 1 + shape.price_spread, count)
    moves = int(np.ceil(WEEK_S / shape.price_every_s))
    keep = 1 - shape.price_reversion
    walk = np.empty((moves, count))
    walk[0] = rng.normal(0.0, shape.price_walk_sigma / np.sqrt(max(1 - keep**2, 1e-9)), count)
    shocks = rng.normal(0.0, shape.price_walk_sigma, (moves, count))
    for move in range(1, moves):
        walk[move] = keep * walk[move - 1] + shocks[move]
    per_step = np.minimum((np.arange(steps) * shape.step_s // shape.price_every_s).astype(np.int64), moves - 1)
    price = typical * np.exp(walk[per_step])
    for column in range(count):
        for _ in range(rng.poisson(shape.spikes_per_type)):
            begin = int(rng.integers(0, steps))
            length = max(1, round(float(rng.uniform(*shape.spike_s)) / shape.step_s))
            price[begin : begin + length, column] *= rng.uniform(*shape.spike_factor)
    tick = 10.0**-shape.price_decimals
    return np.maximum(np.round(price, shape.price_decimals), tick)


__all__ = [
    "DEFAULT_DAILY_PROFILE",
    "DEFAULT_LEVEL_SHAPES",
    "DEFAULT_WEEKLY_PROFILE",
    "HARSH_MARKET",
    "HOUR_S",
    "MARKET_SHAPES",
    "MONDAY_2026_11_16",
    "WEEK_S",
    "LevelShape",
    "WeekShape",
    "default_node_types",
    "generate_week",
]
