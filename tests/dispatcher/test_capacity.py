from __future__ import annotations

from dispatcher.capacity import slots_per_market
from dispatcher.markets import Market

NODES = [
    {"NodeID": "head", "Alive": True, "Resources": {"CPU": 0}},
    {"NodeID": "s1", "Alive": True, "Resources": {"CPU": 4, "spot": 4}},
    {"NodeID": "s2", "Alive": True, "Resources": {"CPU": 2, "spot": 2}},
    {"NodeID": "s3", "Alive": False, "Resources": {"CPU": 2, "spot": 2}},
    {"NodeID": "o1", "Alive": True, "Resources": {"CPU": 2, "ondemand": 2}},
]


def test_slots_count_alive_nodes_of_each_market() -> None:
    assert slots_per_market(NODES) == {Market.SPOT: 6, Market.ON_DEMAND: 2}


def test_draining_nodes_offer_no_slots() -> None:
    assert slots_per_market(NODES, draining=["s1", "o1"]) == {Market.SPOT: 2, Market.ON_DEMAND: 0}


def test_no_nodes_no_slots() -> None:
    assert slots_per_market([]) == {Market.SPOT: 0, Market.ON_DEMAND: 0}
