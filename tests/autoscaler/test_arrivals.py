"""The arrival stream: a mean of rounds cut to size, which a burst moves little and a lasting rise moves; and a real
queue's arrivals, read from leases and pending counts, through the autoscaler's loop on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoscaler.arrivals import ArrivalStream, QueueArrivals
from autoscaler.config import AutoscalerConfig
from autoscaler.decision_log import DecisionLog
from autoscaler.fleet import FleetNode
from autoscaler.loop import Autoscaler
from dispatcher.markets import Market
from scheduler.clock import FakeClock
from scheduler.queue import Scheduler
from tests.autoscaler.fake_fleet import FakeFleet
from tests.autoscaler.snapshots import PRICES, TYPES


def test_a_burst_in_one_round_moves_the_stream_little() -> None:
    stream: ArrivalStream[str] = ArrivalStream(window=15)
    for _ in range(14):
        stream.add(60.0, {"a": 600.0})  # 10 work-s per second
    stream.add(60.0, {"a": 600.0 + 10_000 * 240.0})  # one click queues 10,000 jobs of 4 minutes
    # the burst round is cut to the median plus 5 x half of it (no spread among the others): 35
    assert stream.rates() == {"a": pytest.approx((14 * 10 + 35) / 15)}


def test_a_lasting_rise_moves_the_stream_as_it_fills_the_window() -> None:
    stream: ArrivalStream[str] = ArrivalStream(window=15)
    for _ in range(15):
        stream.add(60.0, {"a": 600.0})
    for _ in range(7):
        stream.add(60.0, {"a": 1800.0})
    assert stream.rates()["a"] == pytest.approx((8 * 10 + 7 * 30) / 15)  # not cut: less than half the window
    for _ in range(8):
        stream.add(60.0, {"a": 1800.0})
    assert stream.rates()["a"] == pytest.approx(30.0)


def test_a_skewed_stream_is_read_at_its_mean_not_its_median() -> None:
    # most rounds bring 10 work-s per second, one in five brings 30 (a long job): the work arriving is 14
    stream: ArrivalStream[str] = ArrivalStream(window=15)
    for round_ in range(15):
        stream.add(60.0, {"a": 1800.0 if round_ % 5 == 0 else 600.0})
    assert stream.rates()["a"] == pytest.approx(14.0)


def test_the_spread_is_robust_to_a_burst() -> None:
    stream: ArrivalStream[str] = ArrivalStream(window=15)
    for round_ in range(14):
        stream.add(60.0, {"a": 60.0 * (9 + round_ % 3)})  # 9, 10, 11, ...
    stream.add(60.0, {"a": 60.0 * 10_000})
    spread = stream.spreads()
    assert spread is not None and spread["a"] == pytest.approx(1.4826, rel=0.01)


def test_a_round_without_a_key_counts_as_nothing_arriving() -> None:
    stream: ArrivalStream[str] = ArrivalStream(window=3)
    stream.add(60.0, {"a": 60.0, "b": 120.0})
    stream.add(60.0, {"a": 60.0})
    stream.add(60.0, {"a": 60.0})
    assert stream.rates() == {"a": pytest.approx(1.0), "b": 0.0}


def test_no_figure_until_three_rounds_were_seen() -> None:
    # a head that just started has seen one or two rounds: their median would be noise, so decide falls
    # back to busy slots until there are three
    stream: ArrivalStream[str] = ArrivalStream(window=15)
    for _ in range(2):
        stream.add(60.0, {"a": 60.0})
        assert stream.rates() is None
    stream.add(60.0, {"a": 60.0})
    assert stream.rates() == {"a": pytest.approx(1.0)}


def test_a_window_below_one_round_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        ArrivalStream(window=0)


def test_queue_arrivals_are_leases_plus_the_growth_of_pending() -> None:
    arrivals = QueueArrivals(window=1)
    key = (1, "fetch")
    leases = {100: 30, 101: 12}  # epoch minute -> jobs leased

    def leased(first: int):
        return [(minute, key, count) for minute, count in leases.items() if minute >= first]

    assert arrivals.update(100 * 60.0, {key: 50}, leased, {"fetch": 2.0}) is None  # the first look: no figure
    # one minute later: 30 leased in minute 100 (whole), pending 50 -> 70: 50 jobs arrived, 100 work-s in 60 s
    assert arrivals.update(101 * 60.0, {key: 70}, leased, {"fetch": 2.0}) == {key: pytest.approx(100 / 60)}
    # minute 101's 12 leases count once, in the next round: pending 70 -> 60 means 2 arrived
    assert arrivals.update(102 * 60.0, {key: 60}, leased, {"fetch": 2.0}) == {key: pytest.approx(4 / 60)}


def test_the_loop_reads_the_stream_of_a_real_queue(scheduler: Scheduler, tmp_path: Path) -> None:
    clock = scheduler.clock
    assert isinstance(clock, FakeClock)
    fleet = FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)])
    autoscaler = Autoscaler(
        scheduler,
        fleet,
        AutoscalerConfig(),
        DecisionLog(tmp_path / "decisions.jsonl"),
        busy_slots=lambda: {Market.SPOT: 0},
        clock=lambda: clock.now_ms() / 1000,
    )
    # every minute, 120 noop jobs of the weekly class arrive and 100 are leased, run 2 s and are acked
    for _ in range(6):
        scheduler.submit_many(
            [scheduler.prepare("noop", {}, tenant="t", job_class="weekly-active") for _ in range(120)]
        )
        leases = scheduler.lease(100)
        clock.advance(2)
        scheduler.ack(leases)
        clock.advance(58)
        snapshot = autoscaler.observe(clock.now_ms() / 1000)
    weekly = [demand for demand in snapshot.demand if demand.level == 2]
    assert len(weekly) == 1 and weekly[0].pending == 6 * 20
    # 120 jobs a minute of about 2 s each (the run-time history's p90, within its 12.5% buckets)
    assert weekly[0].arrival_work_s == pytest.approx(120 * 2 / 60, rel=0.15)
    decision = autoscaler.tick()  # and the decision log carries it
    assert DecisionLog(tmp_path / "decisions.jsonl").tail(1)[0]["arriving_slots"] == pytest.approx(4.0, rel=0.15)
    assert any("slots of work arriving" in reason for reason in decision.reasons)
