"""The bound's per-step spot capacity against a plain replay of the market rows, one time at a time: a type
may have nodes while it can launch, and keeps them through an outage until a full reclaim wave, which
empties it at a capacity loss and otherwise spares launches within the grace."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autoscaler.simulate.bound_steps import type_steps
from autoscaler.simulate.model import Market
from tests.autoscaler.simulate.test_bound import HOUR, OD, SPOT, SPOT_B, make_trace


def replay(market: Market, k: int, steps: int, step_s: float, grace_s: float) -> list[bool]:
    """Per step: whether type k may have nodes at some moment of it."""
    rows = [i for i in range(len(market)) if market.node_type[i] == k]
    times = sorted({0.0, *(max(0.0, float(market.at_s[i])) for i in rows)})
    can_launch, has_nodes, launched_until = True, False, -math.inf
    spans = []  # (from, may have nodes)
    for t in times:
        here = [i for i in rows if max(0.0, float(market.at_s[i])) == t]
        before = can_launch
        launched_until = t if before else launched_until
        for i in here:
            can_launch = bool(market.available[i]) if market.available[i] >= 0 else can_launch
        has_nodes = has_nodes or before
        if t == 0.0 or any(market.reclaim[i] >= 1.0 for i in here):
            lost_capacity = before and not can_launch
            if t == 0.0 or lost_capacity or launched_until <= t - grace_s:
                has_nodes = False
        spans.append((t, can_launch or has_nodes))
    ends = [t for t, _ in spans[1:]] + [math.inf]
    return [
        any(usable and t < (h + 1) * step_s and end > h * step_s for (t, usable), end in zip(spans, ends, strict=True))
        for h in range(steps)
    ]


@pytest.mark.parametrize("seed", range(60))
def test_spot_capacity_per_step_matches_a_replay_of_the_rows(seed):
    rng = np.random.default_rng(seed)
    rows = []
    for k in (0, 1):
        t = float(rng.choice([0.0, 300.0]))
        while t < 4 * HOUR:
            price = float(rng.choice([0.1, math.nan]))
            rows.append((t, k, price, int(rng.integers(-1, 2)), float(rng.choice([0.0, 0.3, 1.0, 1.0]))))
            t += float(rng.choice([0.0, 100.0, 300.0, rng.exponential(600)]))
    market = make_trace([], rows, 4 * HOUR, (SPOT, SPOT_B, OD)).market
    grace_s, step_s = float(rng.choice([0.0, 240.0, 1000.0])), float(rng.choice([60.0, 300.0, 1000.0]))
    steps = int(4 * HOUR / step_s) + 2
    price, _ = type_steps(market, steps, step_s, "hold", grace_s)
    for k in (0, 1):
        assert np.isfinite(price[k]).tolist() == replay(market, k, steps, step_s, grace_s), k
