"""Placement rules as tables: leases and pools go in, the whole placement comes out."""

from __future__ import annotations

import pytest

from dispatcher.markets import Market
from dispatcher.placement import Placement, PoolState, markets_for, place
from scheduler.job import Lease
from scheduler.registry import JobType
from tests.dispatcher.leases import make_lease, types

SPOT, OD = Market.SPOT, Market.ON_DEMAND
PLAIN = JobType("plain")
SPOT_ONLY = JobType("crawl", markets="spot", max_spot_concurrency=2)
OD_ONLY = JobType("billing", markets="on-demand")
ANY = JobType("any", markets="any")
CAPPED = JobType("capped", max_concurrency=1)
TYPES = types(PLAIN, SPOT_ONLY, OD_ONLY, ANY, CAPPED)


def pools(
    spot: int = 0, od: int = 0, busy_spot: int = 0, busy_od: int = 0, below: int = 0, floor: int = 1
) -> PoolState:
    return PoolState({SPOT: spot, OD: od}, {SPOT: busy_spot, OD: busy_od}, below, floor)


def one(leases: list[Lease], state: PoolState, batch: int = 1, **running: dict[str, int]) -> Placement:
    return place(leases, state, TYPES, lambda _t: batch, running.get("running"), running.get("running_spot"))


def summary(result: Placement) -> tuple[list[tuple[str, list[str]]], list[str], list[str]]:
    tasks = [(plan.market.value, [lease.job.id for lease in plan.leases]) for plan in result.tasks]
    return tasks, [lease.job.id for lease in result.deferred], [lease.job.id for lease in result.waiting]


@pytest.mark.parametrize(
    ("rule", "level", "expected"),
    [
        (None, 0, (OD, SPOT)),
        (None, 1, (SPOT,)),
        (None, 3, (SPOT,)),
        ("spot", 0, (SPOT,)),
        ("on-demand", 2, (OD,)),
        ("any", 0, (OD, SPOT)),
        ("any", 3, (SPOT, OD)),
    ],
)
def test_markets_follow_level_and_type(rule, level, expected):
    assert markets_for(rule, level) == expected


def test_top_level_takes_the_ondemand_floor_first_then_spot():
    # given two urgent jobs, one on-demand slot (the floor) and one spot slot
    leases = [make_lease("plain", 0, job_id="u1"), make_lease("plain", 0, job_id="u2")]
    # then the first goes on-demand, the second overflows to spot
    assert summary(one(leases, pools(spot=1, od=1))) == ([("on-demand", ["u1"]), ("spot", ["u2"])], [], [])


def test_lower_levels_never_use_the_floor():
    leases = [make_lease("plain", 3, job_id="b1"), make_lease("any", 3, job_id="b2")]
    # the only on-demand slot is the floor: neither a default nor an "any" job may take it
    assert summary(one(leases, pools(spot=0, od=1, floor=1))) == ([], [], ["b1", "b2"])


def test_any_type_uses_ondemand_above_the_floor():
    leases = [make_lease("any", 3, job_id="b1"), make_lease("plain", 3, job_id="b2")]
    assert summary(one(leases, pools(spot=0, od=2, floor=1))) == ([("on-demand", ["b1"])], [], ["b2"])


def test_floor_room_counts_ondemand_already_held_below_top():
    lease = make_lease("billing", 2, job_id="o1")
    # 3 on-demand slots, floor 1, two already used by lower levels: nothing left for a third
    assert summary(one([lease], pools(od=3, busy_od=2, below=2, floor=1))) == ([], [], ["o1"])
    assert summary(one([lease], pools(od=3, busy_od=1, below=1, floor=1))) == ([("on-demand", ["o1"])], [], [])


def test_urgent_goes_first_whatever_the_lease_order():
    leases = [make_lease("plain", 3, job_id="bg"), make_lease("plain", 0, job_id="urgent")]
    assert summary(one(leases, pools(spot=1, od=0))) == ([("spot", ["urgent"])], [], ["bg"])


def test_spot_cap_defers_a_spot_only_type():
    leases = [make_lease("crawl", 3, job_id=f"c{i}") for i in range(4)]
    # cap 2 on spot, 1 already running: one more starts, the rest are deferred even with free slots
    result = one(leases, pools(spot=5), running_spot={"crawl": 1})
    assert summary(result) == ([("spot", ["c0"])], ["c1", "c2", "c3"], [])


def test_global_cap_limits_the_batch_and_defers_the_rest():
    leases = [make_lease("capped", 3, job_id=f"k{i}") for i in range(3)]
    assert summary(one(leases, pools(spot=5), batch=10)) == ([("spot", ["k0"])], ["k1", "k2"], [])


def test_batches_hold_one_type_at_one_level_in_order():
    leases = [
        make_lease("plain", 3, job_id="a1"),
        make_lease("any", 3, job_id="x1"),
        make_lease("plain", 3, job_id="a2"),
        make_lease("plain", 2, job_id="d1"),
        make_lease("plain", 3, job_id="a3"),
    ]
    result = one(leases, pools(spot=3), batch=2)
    assert summary(result) == ([("spot", ["d1"]), ("spot", ["a1", "a2"]), ("spot", ["x1"])], [], ["a3"])


def test_every_lease_comes_back_exactly_once():
    leases = [make_lease(t, level) for t in TYPES for level in range(4) for _ in range(3)]
    result = one(leases, pools(spot=4, od=2, busy_spot=1), batch=3, running={"capped": 1})
    out = [lease.job.id for plan in result.tasks for lease in plan.leases]
    out += [lease.job.id for lease in result.deferred + result.waiting]
    assert sorted(out) == sorted(lease.job.id for lease in leases)
    assert len(result.tasks) <= 4 - 1 + 2


def test_no_slots_means_nothing_starts():
    leases = [make_lease("plain", 0), make_lease("plain", 3)]
    assert one(leases, pools()).tasks == []
