"""The lower bound with one slot per job: a job's work per step is at most the part of the step inside its
window. Hand-computed costs through a full outage, partial end steps and work classes; with random traces,
that the caps only raise the bound and keep it below a feasible schedule; that row generation (bound_refine)
stops at its budget with a valid, flagged bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoscaler.fleet import NodeType
from autoscaler.simulate import bound_refine
from autoscaler.simulate.bound import lower_bound
from dispatcher.markets import Market as M
from tests.autoscaler.simulate.test_bound import (
    HOUR,
    NO,
    OUTAGE_BACK,
    OUTAGE_PRICES,
    SPOT,
    SPOT_B,
    TYPES,
    make_trace,
    plain_lp,
    random_trace,
)

THREE = (SPOT, SPOT_B, TYPES[1])  # spot-a 0.03, spot-b 0.025, on demand 0.10 $ per slot-hour
FULL_LOSS = [(HOUR, 0, NO, 0, 1.0), (HOUR, 1, NO, 0, 1.0)]  # both spot types lose capacity and every node


def outage(jobs: list[tuple[float, int, float, float]]):
    """Both spot types out from 1 h (a full reclaim at the loss: nothing held) to 9 h."""
    return make_trace(jobs, [*OUTAGE_PRICES, *FULL_LOSS, *OUTAGE_BACK], 12 * HOUR, THREE)


# -- hand-computed ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("decompose", [True, False])
def test_a_long_job_whose_latest_start_falls_in_a_full_outage_buys_on_demand_for_what_cannot_wait(decompose):
    # 3 h of work arriving at 6 h, due at 10 h; spot is back at 9 h. On one slot at most 1 h fits after the
    # outage (spot-b, 0.025 $/slot-h); the other 2 h must run in it, on demand (0.10 $/slot-h)
    trace = outage([(6 * HOUR, 3, 3 * HOUR, 10 * HOUR)])
    capped = lower_bound(trace, decompose=decompose)
    assert capped.total_cost == pytest.approx(2 * 0.10 + 1 * 0.025)
    assert capped.slot_hours_by_market == pytest.approx({"spot": 1.0, "on-demand": 2.0})
    assert capped.cost_by_type == pytest.approx({"spot-a": 0.0, "spot-b": 0.025, "od": 0.20})
    assert capped.exact
    # without the cap: all 3 h in the last hour, on 3 spot slots at once
    relaxed = lower_bound(trace, decompose=decompose, one_slot_per_job=False)
    assert relaxed.total_cost == pytest.approx(3 * 0.025)
    assert relaxed.slot_hours_by_market == pytest.approx({"spot": 3.0, "on-demand": 0.0})


def test_a_job_that_can_wait_for_the_end_of_the_outage_still_pays_spot():
    trace = outage([(6 * HOUR, 3, HOUR, 10 * HOUR)])  # its latest start, 9 h, is the end of the outage
    assert lower_bound(trace).total_cost == pytest.approx(0.025)


def test_the_first_and_last_step_cap_the_work_at_the_part_of_the_step_inside_the_window():
    # step 0 (0-300 s) is cheap, step 1 dear; a job arriving at 150 s, due at 450 s with 300 s of work must run
    # 150 s in each, where the relaxation would do all of it in step 0's last 150 s on two slots
    rows = [(0.0, 0, 0.04, 1, 0.0), (300.0, 0, 4.0, 1, 0.0)]  # 0.01 and 1.0 $/slot-h
    od = NodeType("od", M.ON_DEMAND, "m5.xlarge", "us-east-1a", 4, 8.0)
    trace = make_trace([(150.0, 3, 300.0, 450.0)], rows, types=(SPOT, od))
    assert lower_bound(trace).total_cost == pytest.approx(150 / HOUR * 0.01 + 150 / HOUR * 1.0)
    assert lower_bound(trace, one_slot_per_job=False).total_cost == pytest.approx(300 / HOUR * 0.01)


def test_short_jobs_in_the_same_window_do_not_lend_their_room_to_a_long_one():
    # a 3-h job and a hundred 10-s jobs with the same window: grouped together, the long job could use the
    # short ones' slots (n x the step) and run after the outage; in its own work class it cannot
    long_job = [(6 * HOUR, 3, 3 * HOUR, 10 * HOUR)]
    short_jobs = [(6 * HOUR, 3, 10.0, 10 * HOUR)] * 100
    together = lower_bound(outage(long_job + short_jobs))
    assert together.total_cost == pytest.approx(2 * 0.10 + 1 * 0.025 + 100 * 10 / HOUR * 0.025)


def test_a_job_with_more_work_than_room_keeps_the_old_relaxation():
    # 2 h of work due 1 h after arrival: no schedule meets it on one slot, so no caps (and no error)
    trace = outage([(10 * HOUR, 3, 2 * HOUR, 11 * HOUR)])
    assert lower_bound(trace).total_cost == pytest.approx(lower_bound(trace, one_slot_per_job=False).total_cost)
    assert lower_bound(trace).total_cost == pytest.approx(2 * 0.025)


def test_the_reason_says_what_the_bound_assumes():
    trace = outage([(6 * HOUR, 3, 3 * HOUR, 10 * HOUR)])
    assert "one slot at a time" in lower_bound(trace).why
    assert "one slot at a time" not in lower_bound(trace, one_slot_per_job=False).why


# -- random traces -----------------------------------------------------------------------------------------------


def own_on_demand_slot(trace) -> float:
    """Every job on an on-demand slot of its own from its arrival, billed per second: feasible wherever the
    job's work fits in its window (and the bound leaves a job that does not fit uncapped, which costs less)."""
    return float(trace.arrivals.work_s.sum()) / HOUR * 0.10


@st.composite
def outage_traces(draw):
    """A few jobs, up to 4 h of work each, around full outages of both spot types (every node reclaimed)."""
    n = draw(st.integers(1, 8))
    jobs = []
    for _ in range(n):
        at = draw(st.floats(0, 10 * HOUR))
        work = draw(st.floats(1.0, 4 * HOUR))
        slack = draw(st.one_of(st.just(math.nan), st.floats(0.0, 6 * HOUR)))
        jobs.append((at, draw(st.integers(0, 3)), work, at + work + slack))
    rows = list(OUTAGE_PRICES)
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.floats(0, 11 * HOUR))
        end = start + draw(st.floats(300.0, 5 * HOUR))
        for k in (0, 1):
            rows += [(start, k, NO, 0, 1.0), (end, k, draw(st.sampled_from([0.08, 0.12, NO])), 1, 0.0)]
    return make_trace(jobs, rows, 12 * HOUR, THREE)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trace=outage_traces(), decompose=st.booleans())
def test_the_caps_raise_the_bound_and_keep_it_below_a_feasible_schedule(trace, decompose):
    capped = lower_bound(trace, decompose=decompose)
    relaxed = lower_bound(trace, decompose=decompose, one_slot_per_job=False)
    assert capped.ok and capped.exact
    assert capped.total_cost >= relaxed.total_cost * (1 - 1e-7) - 1e-9
    assert capped.total_cost <= own_on_demand_slot(trace) * (1 + 1e-7) + 1e-9
    assert sum(capped.cost_by_type.values()) == pytest.approx(capped.total_cost, rel=1e-6, abs=1e-9)
    assert sum(capped.slot_hours_by_type.values()) >= capped.work_slot_hours * (1 - 1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_groups_of_a_work_class_bound_below_the_lp_with_one_cap_per_job(seed):
    trace = random_trace(seed, jobs=40)
    per_job = plain_lp(trace, per_job=True)
    grouped = lower_bound(trace).total_cost
    assert grouped <= per_job * (1 + 1e-6) + 1e-9
    assert grouped > lower_bound(trace, one_slot_per_job=False).total_cost  # the caps bind on these


# -- the budget ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "nonzeros", "rounds"), [(0, 10**9, 8), (10, 10**9, 8), (10**9, 0, 8), (10**9, 10**9, 1)]
)
def test_a_spent_budget_stops_with_a_bound_between_the_relaxation_and_the_capped_lp(
    monkeypatch, rows, nonzeros, rounds
):
    traces = [random_trace(seed, jobs=40) for seed in (0, 3, 9)]
    exact = [lower_bound(t) for t in traces]
    monkeypatch.setattr(bound_refine, "MAX_ROWS", rows)
    monkeypatch.setattr(bound_refine, "MAX_NONZEROS", nonzeros)
    monkeypatch.setattr(bound_refine, "MAX_ROUNDS", rounds)
    for trace, full in zip(traces, exact, strict=True):
        limited = lower_bound(trace)
        relaxed = lower_bound(trace, one_slot_per_job=False)
        assert full.exact and not limited.exact
        if nonzeros == 0 or rounds == 1:
            assert limited.lp_rounds == 1  # the second LP was too big, or not allowed
        assert relaxed.total_cost * (1 - 1e-9) <= limited.total_cost <= full.total_cost * (1 + 1e-9)
        assert sum(limited.cost_by_type.values()) == pytest.approx(limited.total_cost)
        assert "budget" in limited.message


def test_the_random_traces_need_more_than_one_round():
    results = [lower_bound(random_trace(seed, jobs=40)) for seed in range(6)]
    assert all(r.exact for r in results)
    assert sum(r.lp_rounds > 1 for r in results) >= 4


def test_without_held_steps_everything_is_the_closed_form():
    trace = outage([(6 * HOUR, 3, 3 * HOUR, 10 * HOUR), (2 * HOUR, 1, 600.0, NO)])
    result = lower_bound(trace)
    assert result.lp_jobs == 0 and result.variables == 0 and result.lp_rounds == 0
    assert result.total_cost == pytest.approx(plain_lp(trace))
    assert np.isfinite(result.total_cost)
