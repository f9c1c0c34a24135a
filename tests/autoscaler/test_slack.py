"""Spare slots per level: from how much its arrivals vary, how long its jobs may wait and how long new
capacity takes; a level whose jobs may wait hours needs almost none."""

from __future__ import annotations

import math

import pytest

from autoscaler.config import AutoscalerConfig
from autoscaler.need import plan_need
from autoscaler.slack import level_slack, poisson_spread, reaction_s
from tests.autoscaler.snapshots import snap, work

CONFIG = AutoscalerConfig()  # 300 s start-up lag, 60 s periods, 2 standard deviations


def test_a_level_that_may_wait_less_than_the_reaction_window_gets_the_whole_excess() -> None:
    assert level_slack(10.0, 60.0, CONFIG) == pytest.approx(2 * 10.0)  # urgent: as it comes


def test_a_longer_wait_spreads_the_excess_over_it() -> None:
    window = math.sqrt(reaction_s(CONFIG) * CONFIG.period_s)  # sqrt(360 x 60) = 147 s
    assert level_slack(10.0, 900.0, CONFIG) == pytest.approx(2 * 10.0 * window / 900)
    assert level_slack(10.0, 21_600.0, CONFIG) < 0.15  # background: nearly none


def test_no_variance_no_slack() -> None:
    assert level_slack(0.0, 60.0, CONFIG) == 0.0 and level_slack(math.nan, 60.0, CONFIG) == 0.0


def test_poisson_arrivals_vary_with_the_rate_and_the_job_size() -> None:
    # 10 slots of 20-s jobs: 0.5 jobs/s, 30 a minute; their work varies by sqrt(2 x 10 x 20 / 60)
    assert poisson_spread(10.0, 20.0, 60.0) == pytest.approx(math.sqrt(2 * 10 * 20 / 60))
    assert poisson_spread(0.0, 20.0, 60.0) == 0.0


def test_the_need_carries_slack_where_the_waits_are_short_only() -> None:
    # the same variance at the daily and the background level: the daily level gets ~28x the slack
    daily = plan_need(snap(demand=(work(1, 0, pending=0, arrival_work_s=20.0, arrival_spread=5.0),)), CONFIG, [])
    background = plan_need(snap(demand=(work(3, 0, pending=0, arrival_work_s=20.0, arrival_spread=5.0),)), CONFIG, [])
    assert daily.spot - 20.0 == pytest.approx(level_slack(5.0, 900.0, CONFIG))
    assert background.spot - 20.0 == pytest.approx(level_slack(5.0, 21_600.0, CONFIG))
    assert daily.spot - 20.0 > 20 * (background.spot - 20.0)
