"""The autoscaler's on-demand plan in placement, as tables: leases, pools and a plan go in, the whole placement
(or the levels worth leasing) comes out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from dispatcher.config import DispatcherConfig
from dispatcher.dispatcher import NO_LEVELS, Dispatcher, _levels_to_lease
from dispatcher.markets import Market
from dispatcher.ondemand_plan import NO_PLAN, VALID_PERIODS, OnDemandPlan, next_plan
from dispatcher.placement import PoolState, markets_for, place
from ebbflow.config import Settings
from ebbflow.stores import open_scheduler
from scheduler.job import Lease
from scheduler.registry import JobType
from tests.dispatcher.leases import make_lease, types

SPOT, OD = Market.SPOT, Market.ON_DEMAND
PLAIN = JobType("plain")
SPOT_ONLY = JobType("crawl", markets="spot")
ANY = JobType("any", markets="any")
OD_ONLY = JobType("billing", markets="on-demand")
TYPES = types(PLAIN, SPOT_ONLY, ANY, OD_ONLY)
NOW = 100.0
DAILY = OnDemandPlan(frozenset({1}), reserve=2, until_s=NOW + 10)  # level 1 may use on-demand beyond 2 slots


def pools(
    spot: int = 0,
    od: int = 0,
    busy_spot: int = 0,
    busy_od: int = 0,
    below: int = 0,
    floor: int = 1,
    plan: OnDemandPlan = DAILY,
    now: float = NOW,
) -> PoolState:
    return PoolState({SPOT: spot, OD: od}, {SPOT: busy_spot, OD: busy_od}, below, floor, plan, now)


def leases(*specs: str) -> list[Lease]:
    """'plain:1:d1' -> a lease of type plain at level 1 with id d1."""
    made = []
    for spec in specs:
        job_type, level, job_id = spec.split(":")
        made.append(make_lease(job_type, int(level), job_id=job_id))
    return made


def summary(batch: list[Lease], state: PoolState) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    result = place(batch, state, TYPES, lambda _t: 1)
    tasks = [(plan.market.value, plan.leases[0].job.id) for plan in result.tasks]
    return tasks, [lease.job.id for lease in result.deferred], [lease.job.id for lease in result.waiting]


@pytest.mark.parametrize(
    ("rule", "level", "planned", "expected"),
    [
        (None, 1, True, (SPOT, OD)),  # spot first: it is cheaper, the plan only opens on-demand
        (None, 1, False, (SPOT,)),
        (None, 0, True, (OD, SPOT)),
        ("spot", 1, True, (SPOT,)),
        ("any", 2, False, (SPOT, OD)),
        ("on-demand", 2, True, (OD,)),
    ],
)
def test_a_planned_level_may_go_on_demand_after_spot(rule, level, planned, expected):
    assert markets_for(rule, level, planned) == expected


CASES = {
    # 4 on-demand slots, the plan keeps 2 for the top level: 2 daily jobs start there, the third waits
    "a planned level uses on-demand beyond the reserve": (
        ("plain:1:d1", "plain:1:d2", "plain:1:d3"),
        pools(od=4),
        ([("on-demand", "d1"), ("on-demand", "d2")], [], ["d3"]),
    ),
    "a level the plan does not list stays on spot": (
        ("plain:2:w1",),
        pools(od=4),
        ([], [], ["w1"]),
    ),
    "spot first, then on-demand": (
        ("plain:1:d1", "plain:1:d2"),
        pools(spot=1, od=4),
        ([("spot", "d1"), ("on-demand", "d2")], [], []),
    ),
    # 3 on-demand slots, reserve 2: the urgent job goes first whatever the lease order, one daily job fits
    "the reserve is kept for the top level": (
        ("plain:1:d1", "plain:1:d2", "plain:0:u1", "plain:0:u2"),
        pools(od=3),
        ([("on-demand", "u1"), ("on-demand", "u2"), ("on-demand", "d1")], [], ["d2"]),
    ),
    "on-demand slots held below the top count against the room": (
        ("plain:1:d1",),
        pools(od=4, busy_od=2, below=2),
        ([], [], ["d1"]),
    ),
    "a floor above the plan's reserve holds": (
        ("plain:1:d1", "plain:1:d2"),
        pools(od=3, floor=2, plan=OnDemandPlan(frozenset({1}), 0, NOW + 10)),
        ([("on-demand", "d1")], [], ["d2"]),
    ),
    "a spot-only type never goes on-demand": (
        ("crawl:1:c1",),
        pools(od=4),
        ([], [], ["c1"]),
    ),
    "an expired plan counts as none": (
        ("plain:1:d1",),
        pools(od=4, now=NOW + 10),
        ([], [], ["d1"]),
    ),
    # MLFQ order: of two planned levels, the higher one takes the one slot left
    "levels keep their order": (
        ("plain:2:w1", "plain:1:d1"),
        pools(od=3, plan=OnDemandPlan(frozenset({1, 2}), 2, NOW + 10)),
        ([("on-demand", "d1")], [], ["w1"]),
    ),
    # "any" and "on-demand" types below the top use the same room beyond the plan's reserve, as beyond the floor
    "other types respect the plan's reserve": (
        ("any:3:a1", "billing:3:b1"),
        pools(od=3),
        ([("on-demand", "a1")], [], ["b1"]),
    ),
    "without a plan, the floor alone is kept": (
        ("any:3:a1", "billing:3:b1", "plain:1:d1"),
        pools(od=3, plan=NO_PLAN),
        ([("on-demand", "a1"), ("on-demand", "b1")], [], ["d1"]),
    ),
}


@pytest.mark.parametrize(("specs", "state", "expected"), CASES.values(), ids=CASES.keys())
def test_placement_follows_the_plan(specs, state, expected):
    assert summary(leases(*specs), state) == expected


LEASE_CASES = {
    "a free spot slot: any level": (pools(spot=1, od=4), False, None),
    "spot full, room beyond the reserve: the top and the planned levels": (pools(od=4), False, [0, 1]),
    "the same with an expired plan: the top only": (pools(od=4, now=NOW + 10), False, [0]),
    "types that may use on-demand at any level: any level, as before": (pools(od=4), True, None),
    "the plan's reserve takes all that is free: the top only": (pools(od=3, busy_od=1, below=1), False, [0]),
    "nothing free: nothing": (pools(od=2, busy_od=2), False, NO_LEVELS),
}


@pytest.mark.parametrize(("state", "ondemand_types", "expected"), LEASE_CASES.values(), ids=LEASE_CASES.keys())
def test_only_levels_that_can_start_are_leased(state, ondemand_types, expected):
    assert _levels_to_lease(state, ondemand_types) == expected


@dataclass(frozen=True)
class Advice:
    ondemand_levels: tuple[int, ...] = ()
    ondemand_reserve: int = 0
    hold: str | None = None


def test_a_plan_lasts_a_few_periods_and_a_hold_does_not_renew_it():
    # given a decision that lists the top level too (it always may) and a reserve
    plan = next_plan(NO_PLAN, Advice((0, 1, 2), 3), now_s=NOW, period_s=5)
    assert plan == OnDemandPlan(frozenset({1, 2}), 3, NOW + VALID_PERIODS * 5)
    # a held round keeps the plan, expiry included; the next decision replaces it whole
    assert next_plan(plan, Advice(hold="hold: inputs unavailable"), NOW + 5, 5) is plan
    assert next_plan(plan, Advice(), NOW + 5, 5) == OnDemandPlan(frozenset(), 0, NOW + 5 + VALID_PERIODS * 5)
    assert NO_PLAN.until_s == -math.inf and not NO_PLAN.allows(1, NOW)


def test_the_dispatcher_follows_decisions_on_its_own_clock(tmp_path: Path):
    # given a dispatcher with a clock of its own (no Ray is needed to follow and read the pools)
    settings = Settings(store="sqlite", sqlite={"path": str(tmp_path / "q.db")})
    scheduler = open_scheduler(settings)
    clock = [NOW]
    dispatcher = Dispatcher(scheduler, DispatcherConfig(ondemand_floor_slots=1), clock=lambda: clock[0])
    dispatcher.slots = {SPOT: 0, OD: 4}
    try:
        # when it follows a decision listing level 1 with a reserve of 2
        dispatcher.follow(Advice((1,), 2), period_s=5)
        # then level 1 may use the 2 slots beyond the reserve, for VALID_PERIODS periods
        assert dispatcher.pools().planned(1) and dispatcher.pools().ondemand_room_below_top() == 2
        clock[0] = NOW + VALID_PERIODS * 5 - 0.1
        dispatcher.follow(Advice(hold="hold: inputs unavailable"), period_s=5)
        assert dispatcher.pools().planned(1)
        # and past that, with only holds since, the plan counts as none: the floor alone is kept
        clock[0] = NOW + VALID_PERIODS * 5
        assert not dispatcher.pools().planned(1) and dispatcher.pools().ondemand_room_below_top() == 3
    finally:
        scheduler.store.close()
