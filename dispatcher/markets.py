"""Markets and the names Ray nodes carry for them.

A worker node says which market it was bought on with a custom resource whose amount is its number of
job slots (`spot: 4` on a 4-slot spot node) and a label `market-type`. The dispatcher asks for one unit of
that resource per task, so Ray places each task in the pool the dispatcher chose and never queues more
tasks than there are slots. Custom resources are used for placement because both of Ray's autoscalers
scale up for them (labels need autoscaler v2).
"""

from __future__ import annotations

from enum import StrEnum

from scheduler.registry import MarketRule


class Market(StrEnum):
    SPOT = "spot"
    ON_DEMAND = "on-demand"


MARKET_RESOURCE: dict[Market, str] = {Market.SPOT: "spot", Market.ON_DEMAND: "ondemand"}
MARKET_LABEL = "market-type"

__all__ = ["MARKET_LABEL", "MARKET_RESOURCE", "Market", "MarketRule"]
