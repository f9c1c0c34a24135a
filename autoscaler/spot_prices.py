"""Where spot prices come from, whichever fleet launches the nodes: EC2's price history (what Ec2Fleet reads,
and what a Ray fleet on AWS needs as well, since Ray knows no prices), or the prices configured on the node
types (`spot_price`: a fleet with no price feed, such as a local cluster). Without a price the autoscaler
launches no spot node of that type, so a Ray fleet must be given one of these."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from autoscaler.ec2_api import pages
from autoscaler.fleet import NodeType
from dispatcher.markets import Market


class Ec2SpotPrices:
    """`describe_spot_price_history` from now for the spot node types' instance types and zones; the latest
    entry per (instance type, zone), as $/hour per node type name. `ec2` is a boto3 EC2 client."""

    def __init__(
        self,
        ec2: Any,
        node_types: Sequence[NodeType],
        clock: Callable[[], float] = time.time,
        product_description: str = "Linux/UNIX",
    ) -> None:
        self._ec2 = ec2
        self._spot = [t for t in node_types if t.market is Market.SPOT]
        self._clock = clock
        self._product = product_description

    def __call__(self) -> dict[str, float]:
        if not self._spot:
            return {}
        history = pages(
            self._ec2.describe_spot_price_history,
            "SpotPriceHistory",
            InstanceTypes=sorted({t.instance_type for t in self._spot}),
            ProductDescriptions=[self._product],
            Filters=[{"Name": "availability-zone", "Values": sorted({t.zone for t in self._spot})}],
            StartTime=datetime.fromtimestamp(self._clock(), tz=UTC),
        )
        latest: dict[tuple[str, str], tuple[float, float]] = {}  # (type, zone) -> (timestamp, price)
        for entry in history:
            where = (str(entry["InstanceType"]), str(entry["AvailabilityZone"]))
            stamp = _epoch(entry.get("Timestamp"))
            if where not in latest or stamp >= latest[where][0]:
                latest[where] = (stamp, float(entry["SpotPrice"]))
        spot = self._spot
        return {t.name: latest[(t.instance_type, t.zone)][1] for t in spot if (t.instance_type, t.zone) in latest}


def configured_spot_prices(node_types: Sequence[NodeType]) -> Callable[[], dict[str, float]]:
    """The `spot_price` each spot node type was configured with (types without one have no price)."""
    prices = {t.name: t.spot_price for t in node_types if t.market is Market.SPOT and t.spot_price is not None}
    return lambda: dict(prices)


def _epoch(value: object) -> float:
    return value.timestamp() if isinstance(value, datetime) else 0.0
