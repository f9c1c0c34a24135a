"""The fault suite's verdicts (bench/fault_suite_report.py): what counts as capacity brought back after a node
loss, and which figures make the suite fail. Pure functions, so each promise is checked on its own."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.fault_suite_report import CapacitySample, FaultOutcome, SuiteReport, capacity_back_s, capacity_kept


def samples(*points: tuple[float, int, int]) -> list[CapacitySample]:
    return [CapacitySample(at_s, slots, waiting) for at_s, slots, waiting in points]


def test_capacity_counts_as_back_only_after_the_loss_was_seen() -> None:
    # given a node killed at 10 s with 4 spot slots up: Ray still lists it for a few seconds
    seen = samples((9, 4, 5), (11, 4, 5), (13, 2, 5), (15, 2, 5), (18, 4, 5))
    # then the capacity was back at 18 s, not at 11 s when the dead node still counted
    assert capacity_back_s(seen, at_s=10, before=4) == 8


def test_capacity_not_back_while_work_waited_is_none() -> None:
    assert capacity_back_s(samples((11, 2, 5), (13, 2, 5)), at_s=10, before=4) is None
    # and once nothing waits, there is no capacity to bring back: not a failure to restore it
    assert capacity_back_s(samples((11, 2, 5), (13, 2, 0), (15, 4, 3)), at_s=10, before=4) is None


def test_capacity_is_kept_when_no_slot_went_missing_while_work_waited() -> None:
    # given a drained node whose replacement joined during the notice: 4 spot slots throughout
    steady = samples(*((10 + t, 4, 5) for t in range(1, 8)))
    assert capacity_kept(steady, at_s=10, before=4) and capacity_back_s(steady, at_s=10, before=4) is None
    # not kept: a slot went missing, or nothing waited (no reason to keep it), or too little was watched
    assert not capacity_kept(samples((11, 4, 5), (13, 2, 5), (16, 4, 5)), at_s=10, before=4)
    assert not capacity_kept(samples(*((10 + t, 4, 0) for t in range(1, 8))), at_s=10, before=4)
    assert not capacity_kept(samples((11, 4, 5), (12, 4, 5)), at_s=10, before=4)


def clean_report(**changes: object) -> SuiteReport:
    faults = [
        FaultOutcome("spot node lost", 25.0, 3.0, 6.0, note="node"),
        FaultOutcome("SIGKILL of ebbflow head", 40.0, 5.0),
    ]
    report = SuiteReport(
        faults=faults,
        records=10,
        records_done=10,
        misbehaving={"fault.raise": (1, 1)},
        dead=1,
        dead_without_reason=0,
        unexpected_dead=[],
        lost=0,
        duplicated_effects=0,
        runs_beyond_one=2,
        leases_left=0,
        cron_ticks=5,
        doubled_ticks=0,
        head_restarts=1,
        elapsed_s=60.0,
    )
    return replace(report, **changes)  # type: ignore[arg-type]


def test_a_clean_run_has_no_failures() -> None:
    assert clean_report().failures() == []


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"lost": 1}, "1 jobs lost"),
        ({"duplicated_effects": 1, "doubled_ticks": 1}, "1 effects twice (1 of them cron ticks)"),
        ({"leases_left": 2}, "2 leases left"),
        ({"dead_without_reason": 1}, "1 dead letters without a reason"),
        ({"unexpected_dead": ["j1 fault.record: boom"]}, "should have completed"),
        ({"misbehaving": {"fault.raise": (1, 0)}}, "fault.raise: 0 of 1"),
        ({"records_done": 9}, "fault.record: 9 of 10 completed"),
        ({"faults": [FaultOutcome("redis-kill", 5.0, None)]}, "redis-kill: work did not resume"),
        ({"faults": [FaultOutcome("spot node lost", 5.0, 1.0, None, note="node")]}, "never brought the spot"),
    ],
)
def test_each_broken_promise_fails_the_suite(changes: dict[str, object], says: str) -> None:
    problems = clean_report(**changes).failures()
    assert len(problems) == 1 and says in problems[0], problems


def test_capacity_kept_after_a_node_loss_counts_as_brought_back() -> None:
    kept = FaultOutcome("spot node lost", 5.0, 1.0, None, note="node", capacity_kept=True)
    assert clean_report(faults=[kept]).failures() == []


def test_a_fault_while_nothing_waited_is_not_a_failure_to_resume() -> None:
    idle = FaultOutcome("redis-pause", 5.0, None, idle=True)
    assert clean_report(faults=[*clean_report().faults, idle]).failures() == []
