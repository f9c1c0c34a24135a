"""The offline lower bound: hand-computed costs on tiny traces, its semantics (deadlines, target waits,
outages, markets), that it stays below feasible schedules, scales with work (without the one-slot caps), and
equals a plain LP with and without them (test_bound_one_slot tests the caps themselves)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from autoscaler.fleet import NodeType
from autoscaler.simulate import bound, bound_steps
from autoscaler.simulate.bound import lower_bound
from autoscaler.simulate.model import Arrivals, Market, Trace
from dispatcher.markets import Market as M

SPOT = NodeType("spot-a", M.SPOT, "m5.xlarge", "us-east-1a", 4, 0.40)
SPOT_B = NodeType("spot-b", M.SPOT, "c5.large", "us-east-1b", 2, 0.20)
OD = NodeType("od", M.ON_DEMAND, "m5.xlarge", "us-east-1a", 4, 0.40)  # 0.10 $ per slot-hour
TYPES = (SPOT, OD)
HOUR = 3600.0
NO = math.nan


Row = tuple[float, int, float, int, float]


def make_trace(
    jobs: Sequence[tuple[float, int, float, float]],
    rows: Sequence[Row] = (),
    duration: float = 4 * HOUR,
    types: tuple[NodeType, ...] = TYPES,
) -> Trace:
    """jobs: (at_s, level, work_s, deadline_s or NaN); rows: (at_s, type index, $/h or NaN, available, reclaim)."""
    cols: list[Sequence[float]] = list(zip(*jobs, strict=True)) if jobs else [[], [], [], []]
    n = len(jobs)
    arrivals = Arrivals(
        at_s=np.asarray(cols[0], dtype=np.float64),
        job_type=np.zeros(n, dtype=np.int32),
        level=np.asarray(cols[1], dtype=np.int8),
        tenant=np.zeros(n, dtype=np.int32),
        work_s=np.asarray(cols[2], dtype=np.float64),
        deadline_s=np.asarray(cols[3], dtype=np.float64),
        types=("job",),
        tenants=("t",),
    )
    m: list[Sequence[float]] = list(zip(*sorted(rows, key=lambda r: r[0]), strict=True)) if rows else [[]] * 5
    market = Market(
        at_s=np.asarray(m[0], dtype=np.float64),
        node_type=np.asarray(m[1], dtype=np.int32),
        price=np.asarray(m[2], dtype=np.float64),
        available=np.asarray(m[3], dtype=np.int8),
        reclaim=np.asarray(m[4], dtype=np.float64),
        node_types=tuple(types),
    )
    return Trace(arrivals, market, duration)


def random_trace(seed: int, jobs: int = 60, hours: float = 3.0, all_deadlines: bool = False) -> Trace:
    rng = np.random.default_rng(seed)
    duration = hours * HOUR
    at = np.sort(rng.uniform(0, duration, jobs))
    level = rng.integers(0, 4, jobs)
    work = rng.lognormal(6, 1, jobs)
    has = np.ones(jobs, dtype=bool) if all_deadlines else rng.random(jobs) < 0.4
    deadline = np.where(has, at + work * rng.uniform(0.5, 3.0, jobs) + rng.uniform(0, HOUR, jobs), NO)
    rows = []
    for k in (0, 1):
        t = 0.0
        while t < duration:
            price = rng.uniform(0.02, 0.3) if rng.random() < 0.7 else NO
            reclaim = 1.0 if rng.random() < 0.15 else float(rng.choice([0.0, 0.3]))
            rows.append((t, k, price, int(rng.integers(-1, 2)), reclaim))
            t += rng.exponential(600)
    types = (SPOT, SPOT_B, OD)
    return make_trace(list(zip(at, level, work, deadline, strict=True)), rows, duration, types)


def plain_lp(
    trace: Trace,
    outages: str = "hold",
    top_only: bool = False,
    grace_s: float = 240.0,
    one_slot: bool = True,
    per_job: bool = False,
) -> float:
    """The LP as written down, without pruning, dual or closed form: z[unit, step] and x[type, step], a unit
    being a group of jobs with the same arrival and due step, work class and market (or, per_job, one job).
    With one_slot, z[unit, h] <= the time its jobs' windows spend in step h (a plain variable bound), for
    jobs whose work fits in the time their windows have capacity."""
    step_s = 300.0
    jobs, steps, open_last = bound_steps.job_steps(trace, step_s, bound.DEFAULT_SLA_S, None)
    price, open_ = bound_steps.type_steps(trace.market, steps, step_s, outages, grace_s)  # type: ignore[arg-type]
    types = trace.market.node_types
    cost = price / np.asarray([t.slots for t in types], dtype=np.float64)[:, None]
    spot = np.asarray([t.market is M.SPOT for t in types])
    spot_only = ~jobs.top if top_only else np.zeros(len(jobs.arrive), dtype=bool)
    units, unit_work, unit_cap = _units(jobs, steps, open_last, np.isfinite(cost), spot, spot_only, one_slot, per_job)
    xk, xh = np.nonzero(np.isfinite(cost))
    col = {(int(k), int(h)): i for i, (k, h) in enumerate(zip(xk, xh, strict=True))}
    z = [(u, h) for u, (a, d, _) in enumerate(units) for h in range(a, d + 1)]
    n_x = len(xk)
    ub: list[list[tuple[int, float]]] = []
    for h in range(steps):
        at_h = [(n_x + i, 1.0) for i, (_, s) in enumerate(z) if s == h]
        ub.append(at_h + [(int(c), -1.0) for c in np.flatnonzero(xh == h)])
        if top_only:
            below = [(n_x + i, 1.0) for i, (u, s) in enumerate(z) if s == h and units[u][2]]
            ub.append(below + [(int(c), -1.0) for c in np.flatnonzero((xh == h) & spot[xk])])
    closed = np.isfinite(cost) & ~open_
    for k in range(len(types)):
        for h in range(1, steps):
            if closed[k, h] and closed[k, h - 1] and not (open_last and h == steps - 1):
                ub.append([(col[k, h], 1.0), (col[k, h - 1], -1.0)])
    a_ub = sparse.csr_array(
        (
            [v for row in ub for _, v in row],
            ([r for r, row in enumerate(ub) for _ in row], [c for row in ub for c, _ in row]),
        ),
        shape=(len(ub), n_x + len(z)),
    )
    a_eq = sparse.csr_array(
        (np.ones(len(z)), ([u for u, _ in z], n_x + np.arange(len(z)))), shape=(len(units), n_x + len(z))
    )
    c = np.concatenate((cost[xk, xh], np.zeros(len(z))))
    bounds = [(0, None)] * n_x + [(0, unit_cap[u].get(h)) for u, h in z]
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(len(ub)), A_eq=a_eq, b_eq=unit_work, bounds=bounds, method="highs")
    return float(res.fun) if res.status == 0 else math.nan


def _units(jobs, steps, open_last, exists, spot, spot_only, one_slot, per_job):
    """Per unit: (arrival step, due step, spot only), its work (slot-hours) and caps {step: slot-hours}."""
    step_s = 300.0
    usable = np.stack((exists.any(axis=0), exists[spot].any(axis=0)))
    keys: dict[tuple[int, ...], int] = {}
    units: list[tuple[int, int, bool]] = []
    work: list[float] = []
    caps: list[dict[int, float | None]] = []
    for j in range(len(jobs.arrive)):
        a, d, only = int(jobs.arrive[j]), int(jobs.due[j]), bool(spot_only[j])
        inside = {}
        for h in range(a, d + 1):
            end = math.inf if open_last and h == steps - 1 else (h + 1) * step_s
            inside[h] = max(0.0, min(float(jobs.due_s[j]), end) - max(float(jobs.at_s[j]), h * step_s))
        room = sum(t for h, t in inside.items() if usable[int(only), h])
        work_s = float(jobs.work_h[j]) * HOUR
        capped = one_slot and work_s <= room
        key = (j,) if per_job else (a, d, math.floor(math.log2(work_s)) if capped else 999, int(only))
        if key not in keys:
            keys[key] = len(units)
            units.append((a, d, only))
            work.append(0.0)
            caps.append({h: 0.0 if capped else None for h in inside})
        u = keys[key]
        work[u] += float(jobs.work_h[j])
        for h, t in inside.items():
            if caps[u][h] is not None:
                caps[u][h] += t / HOUR
    return units, np.asarray(work), caps


# -- hand-computed costs -----------------------------------------------------------------------------------


def test_a_single_job_costs_its_work_at_the_cheapest_slot_price():
    rows = [(0.0, 0, 0.12, 1, 0.0), (0.0, 1, 0.05, 1, 0.0)]  # spot-a 0.03 $/slot-h, spot-b 0.025 $/slot-h
    trace = make_trace([(600.0, 3, 7200.0, NO)], rows, types=(SPOT, SPOT_B, OD))  # 2 slot-hours
    result = lower_bound(trace)
    assert result.ok
    assert result.total_cost == pytest.approx(2 * 0.025)
    assert result.cost_by_type == pytest.approx({"spot-a": 0.0, "spot-b": 0.05, "od": 0.0})
    assert result.slot_hours_by_market == pytest.approx({"spot": 2.0, "on-demand": 0.0})
    assert result.work_slot_hours == pytest.approx(2.0)


@pytest.mark.parametrize("outages", ["hold", "drop"])
def test_spot_unavailable_throughout_means_the_on_demand_price(outages):
    trace = make_trace([(600.0, 3, 7200.0, NO)], [(0.0, 0, 0.12, 0, 0.0)])
    result = lower_bound(trace, outages=outages)
    assert result.total_cost == pytest.approx(2 * 0.10)
    assert result.cost_by_market == pytest.approx({"spot": 0.0, "on-demand": 0.20})


def test_before_its_first_row_a_spot_type_costs_its_on_demand_price_as_in_the_simulator():
    trace = make_trace([(0.0, 3, 3600.0, 1800.0)], [(3600.0, 0, 0.12, 1, 0.0)])
    assert lower_bound(trace).total_cost == pytest.approx(0.10)


def test_a_tight_deadline_forces_work_into_the_expensive_window():
    rows = [(0.0, 0, 0.12, 0, 0.0), (2 * HOUR, 0, 0.12, 1, 0.0)]  # spot only from 2 h on
    loose = lower_bound(make_trace([(0.0, 3, 1800.0, 4 * HOUR)], rows))
    tight = lower_bound(make_trace([(0.0, 3, 1800.0, 1 * HOUR)], rows))
    assert loose.total_cost == pytest.approx(0.5 * 0.03)
    assert tight.total_cost == pytest.approx(0.5 * 0.10)
    assert tight.total_cost > loose.total_cost


def test_a_short_window_inside_a_long_one_pays_its_own_price():
    # step 1 (300-600 s) is dear; the long job can run cheaply around it, the short one cannot leave it.
    # Bounds on "work done by h" alone would let the long job's early work count for the short one.
    rows = [(0.0, 0, 0.04, 1, 0.0), (300.0, 0, 4.0, 1, 0.0), (600.0, 0, 0.04, 1, 0.0)]
    od = NodeType("od", M.ON_DEMAND, "m5.xlarge", "us-east-1a", 4, 8.0)
    jobs = [(0.0, 3, 3600.0, 3000.0), (300.0, 3, 1800.0, 600.0)]
    result = lower_bound(make_trace(jobs, rows, types=(SPOT, od)))
    assert result.total_cost == pytest.approx(1.0 * 0.01 + 0.5 * 1.0)


def test_a_step_takes_its_lowest_price():
    rows = [(0.0, 0, 0.40, 1, 0.0), (150.0, 0, 0.04, 1, 0.0), (240.0, 0, 0.40, 1, 0.0)]
    result = lower_bound(make_trace([(0.0, 3, 3600.0, 300.0)], rows))
    assert result.total_cost == pytest.approx(0.01)  # optimistic within a step, as documented


def test_the_level_target_wait_sets_the_due_time_of_jobs_without_a_deadline():
    rows = [(0.0, 0, 0.12, 0, 0.0), (2 * HOUR, 0, 0.12, 1, 0.0)]  # spot only from 2 h on
    urgent = make_trace([(0.0, 0, 600.0, NO)], rows)  # due at 60 s + its work
    background = make_trace([(0.0, 3, 600.0, NO)], rows)  # due at 6 h + its work
    assert lower_bound(urgent).total_cost == pytest.approx(600 / HOUR * 0.10)
    assert lower_bound(background).total_cost == pytest.approx(600 / HOUR * 0.03)
    assert lower_bound(urgent, sla_s=None).total_cost == pytest.approx(600 / HOUR * 0.03)  # due at the end
    assert lower_bound(urgent, sla_s=(math.inf,)).total_cost == pytest.approx(600 / HOUR * 0.03)


# -- outages: capacity held through them ---------------------------------------------------------------------

# Spot is available until 1 h, then not. A job arriving at 3,900 s and due at 4,200 s (step 13) can only
# use spot nodes launched before 1 h and kept (paid) through steps 12 and 13: 2 x 1/12 slot-hour at
# 0.03, cheaper than 1/12 slot-hour on demand at 0.10.
HELD_JOB = [(3900.0, 3, 300.0, 4200.0)]
HELD = 2 / 12 * 0.03
ON_DEMAND = 1 / 12 * 0.10


def test_running_spot_nodes_outlive_an_outage_and_are_paid_while_held():
    trace = make_trace(HELD_JOB, [(0.0, 0, 0.12, 1, 0.0), (HOUR, 0, NO, 0, 0.0)])
    held = lower_bound(trace)
    assert held.total_cost == pytest.approx(HELD)
    assert held.slot_hours_by_market == pytest.approx({"spot": 2 / 12, "on-demand": 0.0})
    assert held.lp_jobs == 1 and held.variables > 0
    assert lower_bound(trace, outages="drop").total_cost == pytest.approx(ON_DEMAND)
    assert lower_bound(trace, decompose=False).total_cost == pytest.approx(HELD)


def test_a_full_reclaim_wave_at_a_capacity_loss_empties_the_type_even_of_nodes_still_starting():
    wave = make_trace(HELD_JOB, [(0.0, 0, 0.12, 1, 0.0), (HOUR, 0, NO, 0, 1.0)])
    assert lower_bound(wave).total_cost == pytest.approx(ON_DEMAND)  # their launches fail with the capacity
    assert lower_bound(wave, reclaim_grace_s=0.0).total_cost == pytest.approx(ON_DEMAND)
    two_rows = make_trace(HELD_JOB, [(0.0, 0, 0.12, 1, 0.0), (HOUR, 0, NO, 0, 0.0), (HOUR, 0, NO, -1, 1.0)])
    assert lower_bound(two_rows).total_cost == pytest.approx(ON_DEMAND)
    closed_before = make_trace(HELD_JOB, [(0.0, 0, 0.12, 1, 0.0), (3000.0, 0, NO, 0, 0.0), (HOUR, 0, NO, -1, 1.0)])
    assert lower_bound(closed_before).total_cost == pytest.approx(ON_DEMAND)
    partial = make_trace(HELD_JOB, [(0.0, 0, 0.12, 1, 0.0), (HOUR, 0, NO, 0, 0.5)])
    assert lower_bound(partial, reclaim_grace_s=0.0).total_cost == pytest.approx(HELD)  # ignored: optimistic


def test_a_full_reclaim_wave_without_a_capacity_loss_spares_nodes_still_starting():
    # capacity lost at 3,500 s without a wave; the wave at 3,600 s may find nodes launched just before the loss
    late = make_trace(HELD_JOB, [(0.0, 0, 0.12, 1, 0.0), (3500.0, 0, NO, 0, 0.0), (HOUR, 0, NO, -1, 1.0)])
    assert lower_bound(late).total_cost == pytest.approx(HELD)
    assert lower_bound(late, reclaim_grace_s=0.0).total_cost == pytest.approx(ON_DEMAND)
    assert lower_bound(late, reclaim_grace_s=50.0).total_cost == pytest.approx(ON_DEMAND)


# Both spot types lose capacity at 1 h and get it back at 9 h; two jobs arrive during the outage, due inside it.
OUTAGE_JOBS = [(2 * HOUR, 2, 1800.0, 3 * HOUR), (4 * HOUR, 3, 3600.0, 6 * HOUR)]  # 1.5 slot-hours
OUTAGE_PRICES = [(0.0, 0, 0.12, 1, 0.0), (0.0, 1, 0.05, 1, 0.0)]  # 0.03 and 0.025 $ per slot-hour
OUTAGE_BACK = [(9 * HOUR, 0, NO, 1, 0.0), (9 * HOUR, 1, NO, 1, 0.0)]


def outage_trace(loss: Sequence[Row]) -> Trace:
    return make_trace(OUTAGE_JOBS, [*OUTAGE_PRICES, *loss, *OUTAGE_BACK], 12 * HOUR, (SPOT, SPOT_B, OD))


@pytest.mark.parametrize(
    "loss",
    [
        [(HOUR, 0, NO, 0, 1.0), (HOUR, 1, NO, 0, 1.0)],  # the wave in the row that takes the capacity
        [(HOUR, 0, NO, 0, 0.0), (HOUR, 1, NO, 0, 0.0), (HOUR, 0, NO, -1, 1.0), (HOUR, 1, NO, -1, 1.0)],
    ],
)
@pytest.mark.parametrize("decompose", [True, False])
def test_an_outage_of_every_spot_type_with_a_full_wave_buys_on_demand_for_work_inside_it(loss, decompose):
    result = lower_bound(outage_trace(loss), decompose=decompose)
    assert result.slot_hours_by_market == pytest.approx({"spot": 0.0, "on-demand": 1.5})
    assert result.total_cost == pytest.approx(1.5 * 0.10)
    assert "capacity loss" in result.why
    with pytest.raises(ValueError, match=r"2 job\(s\) are below level 0 .*first: arrival 7200 s, due 10800 s"):
        lower_bound(outage_trace(loss), ondemand_levels="top")


def test_an_outage_of_every_spot_type_without_a_wave_may_hold_its_nodes_through_it():
    # spot-b held from the loss (step 12) to job 2's due step (71) at half a slot: 5 h x 0.5 x 0.025 $,
    # and job 1 (2-3 h) runs on the same held slots; on demand for both would be 0.15 $
    result = lower_bound(outage_trace([(HOUR, 0, NO, 0, 0.0), (HOUR, 1, NO, 0, 0.0)]))
    assert result.slot_hours_by_market == pytest.approx({"spot": 2.5, "on-demand": 0.0})
    assert result.total_cost == pytest.approx(5 * 0.5 * 0.025)


# -- markets -----------------------------------------------------------------------------------------------


def test_with_on_demand_for_level_0_only_other_levels_pay_spot_even_when_dearer():
    rows = [(0.0, 0, 0.80, 1, 0.0)]  # spot 0.20 $/slot-h, on demand 0.10
    below = make_trace([(0.0, 1, 3600.0, 1800.0)], rows)
    urgent = make_trace([(0.0, 0, 3600.0, 1800.0)], rows)
    assert lower_bound(below).total_cost == pytest.approx(0.10)
    assert lower_bound(below, ondemand_levels="top").total_cost == pytest.approx(0.20)
    assert lower_bound(urgent, ondemand_levels="top").total_cost == pytest.approx(0.10)


def test_below_level_0_work_with_no_spot_in_its_window_is_an_error_with_on_demand_for_the_top_only():
    # it was a NaN bound (status "infeasible"): no schedule meets that due time with on-demand for level 0 only
    trace = make_trace([(0.0, 1, 3600.0, 1800.0)], [(0.0, 0, 0.12, 0, 0.0)])
    with pytest.raises(ValueError, match=r"1 job\(s\) are below level 0 .* \(first: arrival 0 s, due 1800 s\); "):
        lower_bound(trace, ondemand_levels="top")
    with pytest.raises(ValueError, match="limited to the top level"):
        lower_bound(trace, ondemand_levels="top", decompose=False)
    assert lower_bound(trace).total_cost == pytest.approx(0.10)


def test_work_with_no_capacity_at_all_in_its_window_is_an_error():
    trace = make_trace([(0.0, 0, 3600.0, NO), (600.0, 2, 1.0, 1200.0)], [(0.0, 0, 0.12, 0, 0.0)], types=(SPOT,))
    with pytest.raises(ValueError, match=r"2 job\(s\) have no node type with capacity .*first: arrival 0 s, due 3660"):
        lower_bound(trace)


def test_tiny_work_with_no_capacity_is_an_error_even_where_the_solver_would_round_it_away():
    # 1e-9 s of work is below HiGHS's tolerances: the undecomposed LP called it optimal at 0 $
    trace = make_trace([(0.0, 1, 1e-9, 1800.0)], [(0.0, 0, 0.12, 0, 0.0)], types=(SPOT,))
    with pytest.raises(ValueError, match="no node type"):
        lower_bound(trace, decompose=False)


# -- a bound, and an exact one ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_never_above_a_feasible_schedule_and_never_below_the_cheapest_price(seed):
    trace = random_trace(seed, jobs=200)
    result = lower_bound(trace)
    work_h = trace.arrivals.work_s / HOUR
    all_on_demand = float(work_h.sum()) * 0.10  # every job on demand at its arrival: always feasible
    assert result.ok
    assert result.total_cost < all_on_demand  # spot is cheaper at times, and the bound finds it
    assert result.total_cost >= float(work_h.sum()) * min(0.02 / 4, 0.02 / 2) * (1 - 1e-9)
    assert sum(result.cost_by_type.values()) == pytest.approx(result.total_cost)
    assert sum(result.cost_by_market.values()) == pytest.approx(result.total_cost)
    assert sum(result.slot_hours_by_type.values()) >= result.work_slot_hours * (1 - 1e-9)


def test_hourly_billing_uses_the_per_second_figure_and_says_so():
    trace = random_trace(7)
    second, hour = lower_bound(trace), lower_bound(trace, billing="hour")
    assert hour.total_cost == pytest.approx(second.total_cost)
    assert "hourly" in hour.why and "hourly" not in second.why
    assert "per second" in second.why and "reclaim" in second.why


@pytest.mark.parametrize("seed", range(3))
def test_doubling_every_job_s_work_doubles_the_cost_without_the_one_slot_caps(seed):
    # with them it need not: twice the work no longer fits in a window's cheapest steps
    trace = random_trace(seed, all_deadlines=True)  # due times do not depend on work then
    arrivals = trace.arrivals
    doubled = Trace(
        Arrivals(
            arrivals.at_s,
            arrivals.job_type,
            arrivals.level,
            arrivals.tenant,
            arrivals.work_s * 2,
            arrivals.deadline_s,
            arrivals.types,
            arrivals.tenants,
        ),
        trace.market,
        trace.duration_s,
    )
    once, twice = lower_bound(trace, one_slot_per_job=False), lower_bound(doubled, one_slot_per_job=False)
    assert once.total_cost > 0
    assert twice.total_cost == pytest.approx(2 * once.total_cost, rel=1e-6)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("outages", "levels"), [("hold", "all"), ("hold", "top"), ("drop", "all")])
@pytest.mark.parametrize("one_slot", [True, False])
def test_equals_the_plain_lp_with_one_variable_per_group_and_step(seed, outages, levels, one_slot):
    trace = random_trace(seed, jobs=40)
    expected = plain_lp(trace, outages=outages, top_only=levels == "top", one_slot=one_slot)
    for decompose in (True, False):
        kwargs = {"outages": outages, "ondemand_levels": levels, "decompose": decompose, "one_slot_per_job": one_slot}
        if math.isnan(expected):  # no schedule meets the due times: an error, never a NaN bound
            with pytest.raises(ValueError, match="job"):
                lower_bound(trace, **kwargs)
            continue
        result = lower_bound(trace, **kwargs)
        assert result.total_cost == pytest.approx(expected, rel=1e-6, abs=1e-9)
        assert sum(result.cost_by_type.values()) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_the_random_traces_exercise_the_solver():
    results = [lower_bound(random_trace(seed, jobs=40)) for seed in range(12)]
    assert sum(r.lp_jobs > 0 and r.variables > 0 for r in results) >= 6


# -- inputs ----------------------------------------------------------------------------------------------------


def test_a_deadline_before_arrival_is_a_clear_error():
    trace = make_trace([(0.0, 3, 60.0, NO), (900.0, 1, 60.0, 600.0)])
    with pytest.raises(ValueError, match=r"1 job\(s\): deadline_s is before the job's arrival .*row 1"):
        lower_bound(trace)


@pytest.mark.parametrize(
    ("jobs", "kwargs", "match"),
    [
        ([(0.0, 3, -5.0, NO)], {}, "work_s"),
        ([(math.nan, 3, 5.0, NO)], {}, "at_s"),
        ([(0.0, -1, 5.0, NO)], {}, "level"),
        ([(0.0, 3, 5.0, NO)], {"step_s": 0.0}, "step_s"),
        ([(0.0, 3, 5.0, NO)], {"billing": "minute"}, "billing"),
        ([(0.0, 3, 5.0, NO)], {"sla_s": ()}, "sla_s"),
        ([(0.0, 3, 5.0, NO)], {"outages": "keep"}, "outages"),
    ],
)
def test_malformed_inputs_are_errors(jobs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lower_bound(make_trace(jobs), **kwargs)


def test_no_jobs_cost_nothing():
    result = lower_bound(make_trace([]))
    assert result.ok and result.total_cost == 0.0 and result.lp_jobs == 0


def test_a_deadline_far_past_the_trace_keeps_the_lp_small():
    result = lower_bound(make_trace([(0.0, 3, 3600.0, 1e9)], [(0.0, 0, 0.12, 1, 0.0)]))
    assert result.total_cost == pytest.approx(0.03)
    assert result.steps <= 4 * 12 + 1
