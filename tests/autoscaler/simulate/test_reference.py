"""The spot floor: each job's work at the cheapest spot slot on offer when it arrives."""

from __future__ import annotations

import math

import pytest

from autoscaler.simulate.bound import lower_bound
from autoscaler.simulate.model import Trace
from autoscaler.simulate.reference import spot_floor_cost
from tests.autoscaler.simulate.small import OD, START, arrivals, market, random_day


def test_each_job_pays_the_cheapest_slot_that_could_be_launched_when_it_arrives() -> None:
    # spot-b (0.17 / 3 a node, 4 slots) is the cheaper slot until it runs out of capacity at t=100;
    # then spot-a (0.064 a node, 4 slots) is
    rows = [(100.0, 1, math.nan, 0, 0.0)]
    trace = Trace(arrivals([0.0, 200.0], [3, 3], [3600.0, 7200.0]), market(rows), 10_000.0, START)
    assert spot_floor_cost(trace) == pytest.approx(0.17 / 3 / 4 + 2 * 0.064 / 4)


def test_with_no_type_to_launch_the_cheapest_of_all_counts() -> None:
    rows = [(0.0, 0, math.nan, 0, 0.0), (0.0, 1, math.nan, 0, 0.0)]
    trace = Trace(arrivals([10.0], [3], [3600.0]), market(rows), 1000.0, START)
    assert spot_floor_cost(trace) == pytest.approx(0.17 / 3 / 4)


def test_without_spot_types_there_is_no_floor() -> None:
    trace = Trace(arrivals([0.0], [0], [10.0]), market(types=(OD,)), 100.0, START)
    assert math.isnan(spot_floor_cost(trace))


def test_the_bound_lies_below_it() -> None:
    day = random_day(3000, seed=6)
    assert lower_bound(day).total_cost <= spot_floor_cost(day) * (1 + 1e-9)
