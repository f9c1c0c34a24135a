"""Deadlines before price: which market each level's work goes to.

The idea of Uniform Progress ("Can't Be Late", NSDI'24), applied per level of a job stream: spot is cheaper,
but only what spot can deliver before the work is due may be left to it. Level by level, in the MLFQ's
order (spot slots serve the higher levels first), the level's work is held against what spot can deliver
in time:

* spot nodes running now, less the share that reclaims took lately per hour over the level's horizon, if
  a job started on one now can lose its run (the time since its last checkpoint) and still start again in
  time; higher levels take their share of these first;
* spot nodes launching, if what is left of their start-up lag plus one lost run fits before the level's
  most pressing job must start;
* new spot nodes, when some spot type can be launched (it has a price, no recent capacity failure, no
  launch stuck for `launch_timeout_s`) in a zone where no spot launch failed lately, for every job that can
  wait for one.

On-demand is bought for exactly the work spot cannot make: the slots that keep the level's queue on uniform
progress (progress.py: every queued job started by the time it must start, capacity arriving after the
start-up lag), less what spot up now takes. The arrival stream itself is not bought on-demand: while spot
is out, new work queues, and its share of uniform progress grows the longer it waits, so an outage that
ends within a level's horizon costs little on-demand, and one that lasts buys the level's whole rate. Work
due in hours waits for spot; work due in minutes goes on-demand within a round or two.

The decision lists the levels whose jobs may then use the on-demand slots beyond the top level's reserve,
and the dispatcher places them there. When spot comes back, the levels go back to it; the on-demand nodes
bought for them are kept (`keep`) until spot nodes that replace them are running, not merely launching, so
a market that comes and goes does not make the fleet thrash.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from autoscaler.choose import live_nodes, rank_spot_types
from autoscaler.config import AutoscalerConfig
from autoscaler.levels import LevelLoad
from autoscaler.progress import progress_slots
from autoscaler.snapshot import Snapshot
from dispatcher.markets import Market

HOUR_S = 3600.0
DEADLINE_REASON = "deadlines, level "  # how each level's market reasoning starts in a decision's reasons


@dataclass(frozen=True, slots=True)
class SpotOutlook:
    """What spot can deliver from now on."""

    running: float  # slots of running spot nodes
    launching: tuple[tuple[float, int], ...]  # (seconds until it should be up, slots) per launching spot node
    launchable: bool  # some spot type can be launched now
    loss_per_hour: float  # share of the running spot slots that reclaims took in the last hour
    startup_lag_s: float
    period_s: float
    # work already due when new capacity arrives is given this long after it: one round. The start-up lag is
    # an estimate (300 s by default, 1 to 4 minutes in the simulator), so work that looks late by it is often
    # still saved by capacity bought at once; a longer allowance misses those deadlines to save a little
    late_s: float
    lookahead_s: float  # only work that must start within this (after the lead) is bought on-demand
    why_not: str = ""  # why no spot type can be launched

    def existing(self, start_by_s: float, lost_s: float) -> float:
        """Running spot slots a level may count on: none if one lost run no longer fits before its most
        pressing job must start, else those not expected to be reclaimed within that time."""
        if lost_s > start_by_s:
            return 0.0
        return self.running * max(0.0, 1.0 - self.loss_per_hour * min(start_by_s, HOUR_S) / HOUR_S)

    def arriving(self, start_by_s: float, lost_s: float) -> float:
        """Slots of launching spot nodes that come up in time for a level, one lost run included."""
        return float(sum(slots for up_in, slots in self.launching if up_in + lost_s <= start_by_s))


def spot_outlook(snapshot: Snapshot, config: AutoscalerConfig) -> SpotOutlook:
    spot = {t.name: t for t in snapshot.node_types if t.market is Market.SPOT}
    running = 0.0
    running_nodes = 0
    launching: list[tuple[float, int]] = []
    for node in live_nodes(snapshot):
        node_type = spot.get(node.node_type)
        if node_type is None:
            continue
        if node.state == "running":
            running += node_type.slots
            running_nodes += 1
        elif (age := snapshot.at_s - node.since_s) <= config.launch_timeout_s:
            launching.append((max(0.0, config.startup_lag_s - age), node_type.slots))
    ranked, skipped = rank_spot_types(snapshot, config)
    suspect = suspect_zones(snapshot, config)
    healthy = [t for _, t in ranked if t.zone not in suspect]
    lost = sum(n for name, n in snapshot.preemptions.items() if name in spot)
    loss = min(1.0, lost / max(1, running_nodes + lost))
    why_not = "" if healthy else ("; ".join(skipped) if skipped else "no spot node types")
    if ranked and not healthy:
        why_not = f"every zone failed a spot launch lately: {', '.join(sorted(suspect))}"
    return SpotOutlook(
        running,
        tuple(launching),
        bool(healthy),
        loss,
        config.startup_lag_s,
        config.period_s,
        config.period_s,
        config.ondemand_lookahead_s,
        why_not,
    )


def trusting_outlook(config: AutoscalerConfig, running: float = math.inf) -> SpotOutlook:
    """An outlook that believes spot can always be launched, whatever the market did lately, and that
    `running` spot slots are up (the baselines: an on-demand fleet sized as if everything were on spot,
    and uniform progress, which counts on no spot node up and goes on-demand only as slack runs out)."""
    return SpotOutlook(
        running,
        (),
        True,
        0.0,
        config.startup_lag_s,
        config.period_s,
        config.period_s,
        config.ondemand_lookahead_s,
    )


def suspect_zones(snapshot: Snapshot, config: AutoscalerConfig) -> set[str]:
    """Zones where a spot launch failed for want of capacity within `avoid_after_error_s` and no spot node
    was launched since. The ranking skips only the type that failed and tries the next one, which is how
    the fleet finds capacity again; but when every zone of the market is out, each round's try of another
    type must not count as spot being there. A node launched after the zone's last failure clears it."""
    zone_of = {t.name: t.zone for t in snapshot.node_types if t.market is Market.SPOT}
    failed: dict[str, float] = {}
    for error in snapshot.errors:
        zone = zone_of.get(error.node_type)
        if zone is not None and error.kind != "other" and snapshot.at_s - error.at_s <= config.avoid_after_error_s:
            failed[zone] = max(failed.get(zone, -math.inf), error.at_s)
    for node in snapshot.nodes:
        zone = zone_of.get(node.node_type)
        if zone in failed and node.state != "draining" and node.since_s > failed[zone]:
            del failed[zone]
    return set(failed)


@dataclass(frozen=True, slots=True)
class LevelMarkets:
    """Where one level's flexible work goes, in slots."""

    level: int
    spot: float  # asked of spot
    ondemand: float  # bought on demand now: spot cannot make it in time
    keep: float  # on-demand slots not to give up yet: spot running now cannot take this much
    reason: str = ""


def split_markets(loads: Iterable[LevelLoad], outlook: SpotOutlook) -> list[LevelMarkets]:
    """Each level's flexible work split between spot and on-demand, highest level first.

    On-demand gets what keeps the level's queue on uniform progress (progress.py) beyond what spot can
    deliver in time: with no spot type to launch, every queued job; with one, only the jobs that must
    start before a new spot node and one lost run could serve them. The rest (the arrival stream, work
    that can wait) stays with spot: what spot cannot take now waits for it, and its share of uniform
    progress grows as it waits."""
    used = used_running = 0.0
    lead = outlook.startup_lag_s + outlook.period_s  # until an on-demand node asked for now takes work
    window = lead + outlook.lookahead_s
    split = []
    for load in sorted(loads, key=lambda load: load.level):
        need = load.flex
        # a level whose jobs may wait less than the lookahead cannot wait out an outage: its arrivals too
        stream = load.flex_stream if load.horizon_s <= window else 0.0
        queue = progress_slots(load.queues, lead, outlook.late_s, window)
        progress = max(0.0, stream + queue - load.ondemand_credit)
        wanted = max(need, progress)  # what the level may take of the spot capacity there is
        existing = outlook.existing(load.start_by_s, load.lost_s)
        take = min(wanted, max(0.0, existing + outlook.arriving(load.start_by_s, load.lost_s) - used))
        used += take
        stay = min(wanted, max(0.0, existing - used_running))
        used_running += stay
        if outlook.launchable:
            beyond_spot = outlook.startup_lag_s + load.lost_s  # jobs due sooner only spot up now can serve
            pressing = progress_slots(load.queues, lead, outlook.late_s, min(beyond_spot, window))
            ondemand = max(0.0, pressing - load.ondemand_credit - take)
        else:
            ondemand = max(0.0, progress - take)
        # the rest waits for spot and is asked of it: each launch tried is how the fleet learns that spot
        # is back (a type that fails is skipped for a while, the next one is tried)
        spot = max(0.0, need - ondemand)
        markets = LevelMarkets(load.level, spot, ondemand, max(0.0, progress - stay))
        split.append(_with_reason(markets, load, outlook, existing))
    return split


def _with_reason(markets: LevelMarkets, load: LevelLoad, outlook: SpotOutlook, existing: float) -> LevelMarkets:
    if markets.ondemand <= 0:
        return markets
    if not outlook.launchable:
        short = f"no spot type can be launched ({outlook.why_not})"
    else:
        short = (
            f"jobs due sooner than a new spot node ({outlook.startup_lag_s:.0f} s start-up) and one lost run "
            f"({load.lost_s:.0f} s)"
        )
    reason = (
        f"{DEADLINE_REASON}{load.level}: {load.flex:.1f} slots of work, the most pressing to start within "
        f"{load.start_by_s:.0f} s; spot up now can take {min(existing, markets.spot):.1f} "
        f"in time ({existing:.1f} of {outlook.running:.0f} running slots after {outlook.loss_per_hour:.0%}/h "
        f"reclaims); {short}: {markets.ondemand:.1f} slots on demand keep its queue on uniform progress"
    )
    return LevelMarkets(markets.level, markets.spot, markets.ondemand, markets.keep, reason)
