"""need as tables: the arrival stream plus the queue, the wave before the hour, the urgent pool (Erlang's
loss formula), and the fallback to busy slots when the stream is not known."""

from __future__ import annotations

import math

import pytest

from autoscaler.config import AutoscalerConfig
from autoscaler.decide import decide
from autoscaler.need import erlang_slots, need_slots
from dispatcher.markets import Market
from tests.autoscaler.snapshots import T, node, snap, work

CONFIG = AutoscalerConfig(target_slack=0.25, slack_confidence=0)  # the flat share only: slack.py has its own tests


def blocking(slots: int, offered: float) -> float:
    """Erlang B from its closed form, independent of the recurrence under test."""
    terms = [offered**k / math.factorial(k) for k in range(slots + 1)]
    return terms[-1] / sum(terms)


@pytest.mark.parametrize(("offered", "target"), [(0.5, 0.01), (2.0, 0.01), (4.0, 0.01), (4.0, 0.05), (30.0, 0.001)])
def test_erlang_slots_are_the_fewest_that_keep_blocking_under_the_target(offered: float, target: float) -> None:
    slots = erlang_slots(offered, target)
    assert blocking(slots, offered) <= target < blocking(slots - 1, offered)


def test_no_urgent_work_needs_no_urgent_slots() -> None:
    assert erlang_slots(0.0, 0.01) == 0 and erlang_slots(math.nan, 0.01) == 0


def need(**changes) -> dict[Market, float]:
    return need_slots(snap(**changes), CONFIG, [])


def test_the_stream_and_the_queue_each_need_slots() -> None:
    # 40 slots of weekly work arrive per second-of-slot; 3600 s horizon: 36,000 work-s queued need 10 more
    demand = (work(2, 36_000, arrival_work_s=40.0),)
    assert need(demand=demand, busy_slots={Market.SPOT: 40})[Market.SPOT] == pytest.approx(50 * 1.25)


def test_a_busy_fleet_is_not_asked_to_grow_by_its_own_busy_slots() -> None:
    # all 100 slots busy working off a queue: the stream (50) and the queue (10) fit, so the need stays at
    # the running jobs; sizing by busy + queued would ask for 110 x 1.25 now and more every round
    demand = (work(2, 36_000, arrival_work_s=50.0),)
    assert need(demand=demand, busy_slots={Market.SPOT: 100})[Market.SPOT] == pytest.approx(100)


def test_the_wave_before_the_hour_comes_on_top_of_the_running_work() -> None:
    # five minutes to the hour, 85 slots busy with a stream of 85: the 9,000 work-s of cron jobs need
    # 9000 / 180 = 50 slots of their own, now, not once the running jobs have ended
    before_hour = T + 2700
    demand = (work(2, 0, pending=0, arrival_work_s=85.0),)
    got = need(
        at_s=before_hour, inputs_at_s=before_hour, demand=demand, busy_slots={Market.SPOT: 85}, scheduled_work_s=9000
    )
    assert got[Market.SPOT] == pytest.approx((85 + 50) * 1.25)


def test_the_urgent_stream_gets_on_demand_slots_by_erlangs_formula() -> None:
    # 4 slots of urgent work arriving: 10 on-demand slots keep an arrival's chance of finding none under 1%
    urgent = (work(0, 0, pending=0, arrival_work_s=4.0),)
    assert need(demand=urgent)[Market.ON_DEMAND] == 10
    assert need(demand=urgent)[Market.SPOT] == 0  # the on-demand pool takes it all
    assert decide(snap(demand=urgent), CONFIG).launches == {"od": 2}  # 3 nodes of 4 slots, one is up


def test_the_floor_stays_when_the_urgent_stream_is_small() -> None:
    urgent = (work(0, 0, pending=0, arrival_work_s=0.01),)
    assert need(demand=urgent)[Market.ON_DEMAND] == 4  # one node of the floor


def test_urgent_work_beyond_the_on_demand_pool_goes_where_it_can_start_in_time() -> None:
    # 2,400 urgent work-s queued and a stream of 2: the pool of erlang(2) = 7 slots covers the stream (5 to
    # spare); the queue must start within 60 s, late for any new node, and is given one round once capacity
    # is there: 2400 / 60 = 40 slots, less the 5 spare = 35; with no spot node running, on demand (x 1.25)
    urgent = (work(0, 2400, arrival_work_s=2.0),)
    got = need(demand=urgent)
    assert got[Market.ON_DEMAND] == pytest.approx(7 + 35 * 1.25) and got[Market.SPOT] == 0
    # a spot node up (4 idle slots) takes 4 of them now; the queue's own share of spot (its work over the
    # start-up lag, 8 slots, less the pool's 7) is asked of spot as usual
    running = (node("od-1", "od"), node("a1"))
    got = need(demand=urgent, nodes=running)
    assert got[Market.ON_DEMAND] == pytest.approx(7 + 31 * 1.25)


def test_without_a_known_stream_busy_slots_stand_in_for_it() -> None:
    # the same queue as above, but no arrival figure (an older observer): max(busy, queued x slack)
    demand = (work(2, 36_000),)
    assert need(demand=demand, busy_slots={Market.SPOT: 40})[Market.SPOT] == pytest.approx(40)
    assert need(demand=demand, busy_slots={Market.SPOT: 4})[Market.SPOT] == pytest.approx(10 * 1.25)


def test_a_spot_cap_holds_for_stream_and_queue_together() -> None:
    crawl = work(3, 10**9, "crawl", markets="spot", spot_cap_slots=4, arrival_work_s=100.0)
    assert need(demand=(crawl,))[Market.SPOT] == pytest.approx(4 * 1.25)


def test_a_bad_stream_figure_falls_back_to_busy_slots() -> None:
    demand = (work(2, 36_000, arrival_work_s=math.inf),)
    assert need(demand=demand, busy_slots={Market.SPOT: 40}, nodes=(node("od-1", "od"),))[Market.SPOT] == 40
