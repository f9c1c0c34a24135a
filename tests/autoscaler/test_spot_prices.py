"""Where a fleet's spot prices come from: EC2's price history (through a moto server, as boto3 reads the real
one) or the node types' configured prices. A Ray fleet without either never launched a spot node: the head's
autoscaler skipped every spot type for want of a price."""

from __future__ import annotations

from typing import Any

import pytest

from autoscaler.fleet import NodeType
from autoscaler.ray_fleet import RayFleet
from autoscaler.spot_prices import Ec2SpotPrices
from dispatcher.markets import Market
from ebbflow.autoscaling import spot_price_source
from ebbflow.config import Settings
from scheduler.errors import ConfigError
from tests.autoscaler.moto_server import MotoServer, moto

__all__ = ["moto"]  # a fixture, used by name

SPOT_A = NodeType("spot-m5xl-a", Market.SPOT, "m5.xlarge", "us-east-1a", slots=2, ondemand_price=0.192)
SPOT_B = NodeType("spot-c5xl-b", Market.SPOT, "c5.xlarge", "us-east-1b", slots=2, ondemand_price=0.17)
ON_DEMAND = NodeType("od-m5xl-a", Market.ON_DEMAND, "m5.xlarge", "us-east-1a", slots=2, ondemand_price=0.192)


def settings(**autoscaler: Any) -> Settings:
    return Settings.model_validate({"autoscaler": {"node_types": [SPOT_A, SPOT_B, ON_DEMAND], **autoscaler}})


def test_ec2_price_history_prices_every_spot_type(moto: MotoServer) -> None:
    # given EC2 (moto) with its price history / when the spot prices are read
    prices = Ec2SpotPrices(moto.ec2_client(), [SPOT_A, SPOT_B, ON_DEMAND])()
    # then every spot type has a positive price, and the on-demand type none
    assert set(prices) == {SPOT_A.name, SPOT_B.name} and all(price > 0 for price in prices.values())


def test_the_settings_default_reads_ec2_for_a_ray_fleet(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)  # boto3's usual chain, as on a head node with an instance role
    source = spot_price_source(settings(ec2={"endpoint_url": moto.url}))
    assert set(source()) == {SPOT_A.name, SPOT_B.name}


def test_configured_prices_are_used_when_asked_for() -> None:
    priced = [NodeType(**{**_fields(t), "spot_price": 0.06}) for t in (SPOT_A, SPOT_B)]
    source = spot_price_source(
        Settings.model_validate({"autoscaler": {"spot_prices": "node_types", "node_types": [*priced, ON_DEMAND]}})
    )
    assert source() == {SPOT_A.name: 0.06, SPOT_B.name: 0.06}


def test_configured_prices_missing_on_a_spot_type_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"spot-m5xl-a, spot-c5xl-b has no spot_price.*spot_prices = \"ec2\""):
        spot_price_source(settings(spot_prices="node_types"))


def test_a_spot_price_that_is_not_positive_is_refused_with_the_type_named() -> None:
    bad = NodeType(**{**_fields(SPOT_A), "spot_price": 0.0})
    with pytest.raises(ValueError, match="spot-m5xl-a: spot_price must be > 0"):
        Settings.model_validate({"autoscaler": {"node_types": [bad]}})


def test_a_failing_price_source_gives_a_ray_fleet_no_prices_this_round() -> None:
    def unreachable() -> dict[str, float]:
        raise OSError("EC2 endpoint unreachable")

    fleet = RayFleet([SPOT_A, ON_DEMAND], prices=unreachable)
    assert fleet.spot_prices() == {}
    assert RayFleet([SPOT_A, ON_DEMAND], prices=lambda: {SPOT_A.name: 0.07, ON_DEMAND.name: 1.0}).spot_prices() == {
        SPOT_A.name: 0.07
    }


def _fields(node_type: NodeType) -> dict[str, Any]:
    return {name: getattr(node_type, name) for name in NodeType.__dataclass_fields__}
