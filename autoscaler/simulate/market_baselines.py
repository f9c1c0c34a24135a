"""The two baselines that share our policy's need and differ in where the work goes:

* `OnDemandAutoscaled`: the same need (the stream, the queue over its horizon, slack per level, the urgent
  pool), all of it on on-demand nodes: what the service pays without spot, the honest yardstick for what
  spot saves (a fleet of on-demand nodes sized for the peak hour pays far more, so it flatters any policy).
* `UniformProgressBaseline`: "Can't Be Late" (NSDI'24) per level: each level's work stays on spot until its
  slack runs out (its jobs can no longer wait for a new spot node and one lost run), then goes on-demand.
  It does not look at the market: spot counts as always launchable, and no spot node up counts, so an
  outage costs it the deadlines spot was still expected to meet, and a quiet market costs it the on-demand
  bought for jobs a running spot node could have taken.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from autoscaler.config import AutoscalerConfig
from autoscaler.deadlines import trusting_outlook
from autoscaler.decide import Decision, decide, ondemand_actions
from autoscaler.guard import guard
from autoscaler.need import Need, plan_need
from autoscaler.snapshot import Snapshot
from dispatcher.markets import Market


@dataclass
class OnDemandAutoscaled:
    config: AutoscalerConfig = field(default_factory=AutoscalerConfig)
    name: str = "on-demand autoscaled"

    def decide(self, snapshot: Snapshot) -> Decision:
        reasons: list[str] = []
        # sized as if every slot but the urgent pool were spot: the busy slots are counted there once
        busy = sum(snapshot.busy_slots.values())
        as_spot = dataclasses.replace(snapshot, busy_slots={Market.SPOT: busy}, ondemand_busy_below_top=0)
        need = plan_need(as_spot, self.config, reasons, trusting_outlook(self.config))
        total = need.spot + need.ondemand
        everything = Need(spot=0.0, ondemand=total, ondemand_keep=total, reserve=0)
        ondemand_only = dataclasses.replace(
            snapshot, node_types=tuple(t for t in snapshot.node_types if t.market is Market.ON_DEMAND)
        )
        launches, drains, why = ondemand_actions(ondemand_only, self.config, everything)
        made = Decision(launches, drains, (*reasons, *why), need_slots={Market.ON_DEMAND: total})
        return guard(made, snapshot, self.config)


@dataclass
class UniformProgressBaseline:
    config: AutoscalerConfig = field(default_factory=AutoscalerConfig)
    name: str = "uniform progress"

    def decide(self, snapshot: Snapshot) -> Decision:
        made = decide(snapshot, self.config, trusting_outlook(self.config, running=0.0))
        return guard(made, snapshot, self.config)
