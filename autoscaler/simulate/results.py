"""What a simulated run measured: per job its start and finish, per tick the queue and the fleet, and the
summary the report prints (cost, SLA attainment per level, waits, idle slack, actions, work lost)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from dispatcher.markets import Market

if TYPE_CHECKING:
    from autoscaler.simulate.fleet_state import SimNode


SLOT_USES = (
    "busy",  # running a job
    "idle",  # on a running node, free for work: the slack
    "draining idle",  # on a draining node, waiting for its last jobs to end
    "starting",  # on a node still in its start-up lag
)


@dataclass
class JobTimes:
    started: list[float]  # first start, NaN: never
    finished: list[float]  # NaN: never
    preempted: list[bool] | None = None  # lost a run to a reclaim

    @classmethod
    def empty(cls, n: int) -> JobTimes:
        return cls([math.nan] * n, [math.nan] * n)


@dataclass(frozen=True)
class LevelSummary:
    level: int
    jobs: int
    started_in_time: float  # share started within the level's target wait
    deadlines: int  # jobs with a deadline
    deadline_missed: int  # finished after it, or never
    missed_after_reclaim: int  # of those, jobs that lost a run to a reclaimed spot node
    # of those, jobs no policy could have been sure to meet: the deadline is sooner than the work plus the
    # shortest start-up lag after arrival, so only a slot idle and waiting for it could have made it
    missed_impossible: int
    wait_p50_s: float
    wait_p99_s: float
    unfinished: int


@dataclass
class SimResult:
    policy: str
    cost: dict[Market, float] = field(default_factory=dict)
    launches: int = 0
    terminations: int = 0
    reclaimed: int = 0
    jobs_preempted: int = 0
    work_lost_s: float = 0.0
    # paid slot-seconds by what they did, sampled every decision period (see SLOT_USES)
    slot_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SLOT_USES, 0.0))
    spot_paid_sampled: float = 0.0  # $ of spot slots, sampled like slot_s
    # $ the same spot slots would have cost on the cheapest spot type of the moment, by use
    spot_at_cheapest_by_use: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SLOT_USES, 0.0))
    # $ of on-demand slots by use, sampled like slot_s
    ondemand_by_use: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SLOT_USES, 0.0))
    levels: list[LevelSummary] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=dict)  # per tick, for the day chart
    wall_s: float = 0.0  # how long the simulation took on this machine (set by compare)

    @property
    def total_cost(self) -> float:
        return sum(self.cost.values())

    @property
    def idle_slack(self) -> float:
        """Idle share of the slots of nodes that are up (running or draining): capacity paid, doing nothing."""
        up = self.slot_s["busy"] + self.slot_s["idle"] + self.slot_s["draining idle"]
        return (self.slot_s["idle"] + self.slot_s["draining idle"]) / up if up else 0.0

    @property
    def spot_at_cheapest(self) -> float:
        return sum(self.spot_at_cheapest_by_use.values())

    @property
    def spot_price_premium(self) -> float:
        """How much more the spot slots cost than on the cheapest spot type of each moment (0.1: 10%)."""
        return self.spot_paid_sampled / self.spot_at_cheapest - 1 if self.spot_at_cheapest else 0.0

    def money_went(self) -> dict[str, float]:
        """The bill split by what it paid for: spot slots by use at the cheapest spot price of the moment,
        what the types chosen cost above that, and on-demand slots busy or not (idle, draining or starting).
        Sampled every decision period, so the parts add up to the bill within a period's worth of the fleet;
        the on-demand parts share out the metered on-demand bill in the sampled proportions."""
        spot = {f"spot {use}": cost for use, cost in self.spot_at_cheapest_by_use.items()}
        premium = self.spot_paid_sampled - self.spot_at_cheapest
        ondemand = self.cost.get(Market.ON_DEMAND, 0.0)
        sampled = sum(self.ondemand_by_use.values())
        busy_share = self.ondemand_by_use["busy"] / sampled if sampled else 1.0
        return {
            **spot,
            "spot above the cheapest type": premium,
            "on-demand busy": ondemand * busy_share,
            "on-demand not busy": ondemand * (1 - busy_share),
        }

    def sample(
        self, nodes: Iterable[SimNode], prices: Mapping[str, float], cheapest_per_slot: float | None, period_s: float
    ) -> None:
        """Count one decision period of the fleet: each slot by use, and spot slots' cost (paid, and at
        `cheapest_per_slot`, the cheapest spot type that could be launched then; None: none could)."""
        for node in nodes:
            slots, busy = node.node_type.slots, len(node.jobs)
            if node.state == "launching":
                used = {"starting": slots}
            else:
                used = {"busy": busy, "draining idle" if node.state == "draining" else "idle": slots - busy}
            for use, count in used.items():
                self.slot_s[use] += count * period_s
            if node.market is Market.SPOT:
                price = prices[node.node_type.name]
                per_slot = cheapest_per_slot if cheapest_per_slot is not None else price / slots
                self.spot_paid_sampled += price * period_s / 3600
                for use, count in used.items():
                    self.spot_at_cheapest_by_use[use] += per_slot * count * period_s / 3600
            else:
                price = node.node_type.ondemand_price
                for use, count in used.items():
                    self.ondemand_by_use[use] += price / slots * count * period_s / 3600

    def track(
        self, now: float, depth: Sequence[int], nodes: Iterable[SimNode], prices: Mapping[str, float], cost: float
    ) -> None:
        counts = dict.fromkeys(Market, 0)
        for node in nodes:
            counts[node.market] += 1
        spot = [p for name, p in prices.items() if name.startswith("spot")]
        row = {
            "t": now,
            **{f"depth_{level}": float(n) for level, n in enumerate(depth)},
            "nodes_spot": float(counts[Market.SPOT]),
            "nodes_ondemand": float(counts[Market.ON_DEMAND]),
            "spot_price": float(np.mean(spot)) if spot else math.nan,
            "cost": cost,
        }
        for key, value in row.items():
            self.series.setdefault(key, []).append(value)

    def summarise(
        self,
        times: JobTimes,
        levels: Sequence[int],
        arrived: Sequence[float],
        deadlines: Sequence[float],
        target_wait_s: Sequence[float],
        work: Sequence[float] | None = None,
        shortest_start_s: float = 0.0,
    ) -> None:
        started = np.array(times.started)
        finished = np.array(times.finished)
        level = np.array(levels)
        arrival = np.array(arrived)
        deadline = np.array(deadlines)
        needs = np.zeros(len(arrival)) if work is None else np.array(work)
        with np.errstate(invalid="ignore"):
            impossible = deadline - arrival < needs + shortest_start_s
        wait = started - arrival
        reclaimed = np.array(times.preempted if times.preempted is not None else [False] * len(level), dtype=bool)
        self.levels = []
        for index in range(len(target_wait_s)):
            mine = level == index
            if not mine.any():
                continue
            waits = wait[mine]
            done = ~np.isnan(waits)
            in_time = np.count_nonzero(done & (waits <= target_wait_s[index]))
            has_deadline = mine & ~np.isnan(deadline)
            missed = has_deadline & (np.isnan(finished) | (finished > deadline))
            self.levels.append(
                LevelSummary(
                    level=index,
                    jobs=int(mine.sum()),
                    started_in_time=in_time / int(mine.sum()),
                    deadlines=int(has_deadline.sum()),
                    deadline_missed=int(missed.sum()),
                    missed_after_reclaim=int((missed & reclaimed).sum()),
                    missed_impossible=int((missed & impossible).sum()),
                    wait_p50_s=float(np.percentile(waits[done], 50)) if done.any() else math.nan,
                    wait_p99_s=float(np.percentile(waits[done], 99)) if done.any() else math.nan,
                    unfinished=int(np.count_nonzero(mine & np.isnan(finished))),
                )
            )
