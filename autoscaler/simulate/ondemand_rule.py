"""Which jobs the simulated on-demand slots serve: the dispatcher's placement rule, replayed.

The top level may always use on-demand slots (on-demand first: that is what its reserve is for). A level
below the top may use them only while the last decision lists it (`Decision.ondemand_levels`: spot cannot
deliver its work in time) and only the slots beyond the reserve the decision keeps for the top level, as the
production dispatcher places them (dispatcher/placement.py). A fleet of on-demand nodes only (the static
peak on-demand baseline) serves every level on every slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autoscaler.decide import Decision

MANY = 1 << 30


@dataclass
class OnDemandRule:
    all_levels: bool = False
    levels: frozenset[int] = field(default_factory=frozenset)  # below the top, allowed now
    reserve: int = 0  # on-demand slots kept for the top level
    capacity: int = 0  # slots of running on-demand nodes (draining ones take no work)
    below_top: int = 0  # of them, busy with jobs below the top level

    def follow(self, decision: Decision) -> bool:
        """Take the decision's placement; True if a level may use on-demand slots now that could not before."""
        levels = frozenset(decision.ondemand_levels)
        opened = bool(levels - self.levels) or decision.ondemand_reserve < self.reserve
        self.levels, self.reserve = levels, decision.ondemand_reserve
        return opened

    def allows(self, level: int) -> bool:
        return level == 0 or self.all_levels or level in self.levels

    def room_below_top(self) -> int:
        if self.all_levels:
            return MANY
        return max(0, self.capacity - self.reserve - self.below_top)

    def below_top_order(self, levels: int) -> range | list[int]:
        """Levels below the top that on-demand slots may serve now, highest first."""
        if self.all_levels:
            return range(1, levels)
        return sorted(self.levels)
