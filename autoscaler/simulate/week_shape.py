"""The shape of a synthetic week: what `generate_week()` draws, field by field, and the presets.

`WeekShape()` is the documented default week. `HARSH_MARKET` keeps its arrivals and makes the spot market as
harsh as the availability histories of scarce instance types: zones up 20-60% of the week, region-wide spells
of up to 8 h with every zone down at once, and a zone that goes out taking its spot nodes with it.
`MARKET_SHAPES` names both, for a command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

WEEK_S = 7 * 86400
HOUR_S = 3600


@dataclass(frozen=True)
class LevelShape:
    """The jobs of one level: their share of the week, their work (lognormal, clipped) and deadline."""

    fraction: float  # of all jobs in the week (the hourly wave counts as its level, bursts as background)
    job_type: str
    work_median_s: float
    work_sigma: float  # sigma of log(work_s)
    work_min_s: float
    work_max_s: float
    deadline_s: float | None  # after arrival; None: no deadline
    deadline_share: float = 1.0  # the fraction of its jobs that have that deadline; the others have none
    checkpoint_s: float | None = None  # its runs save a checkpoint this often (a reclaim loses less); None: never


DEFAULT_LEVEL_SHAPES = (
    # the social-graph fetches (urgent, daily, weekly) save their cursor after every page of friends, every
    # few seconds of work; the link re-checks (background) do not checkpoint
    LevelShape(0.05, "new-signup-graph", 20.0, 0.6, 5.0, 60.0, 60.0, checkpoint_s=10.0),  # urgent: 5-60 s
    LevelShape(0.25, "daily-refresh", 45.0, 0.9, 1.0, 600.0, 900.0, checkpoint_s=10.0),  # daily: deadline 15 min
    LevelShape(0.30, "weekly-refresh", 90.0, 1.1, 1.0, 1800.0, 3600.0, checkpoint_s=10.0),  # weekly: deadline 1 h
    LevelShape(0.40, "recheck-links", 240.0, 1.3, 1.0, 4 * 3600.0, 6 * 3600.0, 0.5),  # background: half 6 h
)
# (hour of the day, relative rate), linear in between: quietest at 03:00, busiest at 20:00.
DEFAULT_DAILY_PROFILE = (
    (0.0, 0.55),
    (3.0, 0.2),
    (6.0, 0.3),
    (9.0, 0.7),
    (12.0, 0.85),
    (15.0, 0.85),
    (18.0, 1.1),
    (20.0, 1.4),
    (22.0, 1.1),
    (24.0, 0.55),
)
# (hour of the week from Monday 00:00, factor), linear in between: lowest Wednesday 03:00, highest Sunday 20:00.
DEFAULT_WEEKLY_PROFILE = (
    (0.0, 1.1),  # Monday 00:00
    (12.0, 1.0),
    (36.0, 0.95),
    (51.0, 0.6),  # Wednesday 03:00
    (66.0, 0.9),
    (84.0, 0.95),
    (108.0, 1.0),
    (132.0, 1.05),
    (164.0, 1.5),  # Sunday 20:00
    (168.0, 1.1),
)


@dataclass(frozen=True)
class WeekShape:
    """What the synthetic week looks like. The defaults are the documented default week."""

    # --- arrivals
    levels: tuple[LevelShape, ...] = DEFAULT_LEVEL_SHAPES  # urgent, daily, weekly, background
    daily_profile: tuple[tuple[float, float], ...] = DEFAULT_DAILY_PROFILE
    weekly_profile: tuple[tuple[float, float], ...] = DEFAULT_WEEKLY_PROFILE
    hourly_noise: float = 0.05  # sigma of a lognormal factor on each hour's rate
    tenants: int = 2000  # besides the wave's tenant
    tenant_exponent: float = 1.1  # Zipf: tenant k (1-based) submits in proportion to k**-exponent
    # --- bursts: one tenant queues this many background jobs at one instant, this many times a week
    bursts: int = 3
    burst_jobs: int = 10_000
    # --- the hourly hot-topic wave: at minute 0 of every hour, one job per WOEID
    wave_jobs: int = 170
    wave_level: int = 1  # daily
    wave_deadline_s: float = 300.0
    wave_work_s: tuple[float, float] = (20.0, 60.0)  # uniform
    wave_type: str = "trend-videos"
    wave_tenant: str = "cron"
    # --- the spot market (spot node types only; on-demand ones are fixed)
    step_s: float = 300.0  # the market's time grid
    spot_price_ratio: float = 1 / 3  # typical spot price ÷ on-demand price
    price_spread: float = 0.1  # each type's typical price is the ratio × uniform(1 ± this)
    price_every_s: float = 3600.0  # the walk moves this often
    price_walk_sigma: float = 0.04  # per move, of log(price)
    price_reversion: float = 0.1  # per move, the share of the gap to the typical price closed
    price_decimals: int = 4  # prices are rounded to $0.0001/hour
    spikes_per_type: float = 2.0  # per week (Poisson)
    spike_factor: tuple[float, float] = (1.5, 4.0)  # uniform; above ~3, a spike passes on-demand
    spike_s: tuple[float, float] = (900.0, 7200.0)  # uniform duration
    zone_availability: tuple[float, ...] = (0.85, 0.5, 0.2)  # share of the week with capacity, zones in name order
    zone_outages: int = 7  # per zone per week
    type_availability: float = 0.92  # share of its zone's week a single type has capacity (outages of its own)
    type_outages: int = 4  # per type per week
    reclaim_waves_per_day: float = 0.25  # per spot type while it has capacity
    reclaim_boost: float = 8.0  # the rate is this many times higher while it has none
    reclaim_fraction: tuple[float, float] = (0.05, 0.2)  # uniform share of its running nodes
    outage_reclaim: float = 0.5  # the chance a type's nodes are reclaimed when its zone goes out
    outage_reclaim_fraction: tuple[float, float] = (0.1, 0.5)
    # --- region-wide outages: every zone down at once (they count in each zone's share of the week)
    region_outages: int = 0  # per week, apart from each other
    region_outage_s: tuple[float, float] = (HOUR_S, 8.0 * HOUR_S)  # uniform duration, to the step (at least one)
    # True: outside region-wide outages some zone, and a spot type in it, always has capacity, so every zone is
    # down at once only in those (zones drawn independently overlap: up 60, 40 and 20%, all are down a fifth)
    zone_cover: bool = False

    def __post_init__(self) -> None:
        total = sum(level.fraction for level in self.levels)
        if abs(total - 1) > 1e-6:
            raise ValueError(f"levels: the fractions must add up to 1, got {total}")
        if not 0 <= self.wave_level < len(self.levels):
            raise ValueError(f"wave_level must be a level index 0..{len(self.levels) - 1}")
        if not self.zone_availability or not all(0 <= a <= 1 for a in self.zone_availability):
            raise ValueError("zone_availability: one share 0..1 per zone")
        if self.tenants < 1 or self.bursts < 0 or self.burst_jobs < 0 or self.wave_jobs < 0:
            raise ValueError("tenants must be >= 1; bursts, burst_jobs and wave_jobs >= 0")
        low, high = self.region_outage_s
        if self.region_outages < 0 or not 0 < low <= high or self.region_outages * high > WEEK_S / 2:
            raise ValueError(
                "region_outages must be >= 0 and region_outage_s a range 0 < low <= high, with region_outages "
                "× high at most half a week (make either smaller)"
            )

    def fixed_jobs(self) -> int:
        """Jobs of the week that are not drawn from the seasonal rate: the hourly waves and the bursts."""
        return WEEK_S // HOUR_S * self.wave_jobs + self.bursts * self.burst_jobs


# Scarce instance types, as their real spot histories show them: zones up 20-60% of the week, three region-wide
# spells of 1-8 h a week with every zone down at once (a zone that is out is covered by another the rest of the
# time), and a zone that goes out taking every spot node in it. The same arrivals as the default week.
HARSH_MARKET = WeekShape(
    zone_availability=(0.6, 0.4, 0.2),
    region_outages=3,
    region_outage_s=(HOUR_S, 8.0 * HOUR_S),
    zone_cover=True,
    outage_reclaim=1.0,
    outage_reclaim_fraction=(1.0, 1.0),
)
# The weeks a command line can name: their shapes differ in the market only.
MARKET_SHAPES: Mapping[str, WeekShape] = MappingProxyType({"default": WeekShape(), "harsh": HARSH_MARKET})


__all__ = [
    "DEFAULT_DAILY_PROFILE",
    "DEFAULT_LEVEL_SHAPES",
    "DEFAULT_WEEKLY_PROFILE",
    "HARSH_MARKET",
    "HOUR_S",
    "MARKET_SHAPES",
    "WEEK_S",
    "LevelShape",
    "WeekShape",
]
