"""The fault suite's verdicts (bench/fault_suite_report.py, bench/launch_audit.py): what counts as capacity
brought back after a node loss, which figures make the suite fail, and what counts as a double launch or a
broken guard limit across two heads. Pure functions, so each promise is checked on its own."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from bench.fault_suite_report import CapacitySample, FaultOutcome, SuiteReport, capacity_back_s, capacity_kept
from bench.launch_audit import LaunchRound, audit, read_rounds


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
        FaultOutcome("SIGKILL of the leading ebbflow head", 40.0, 5.0, kind="head", failover_s=4.2, head_restarts=1),
        FaultOutcome("a Lua script held redis-server", 50.0, 2.0, kind="redis-busy"),
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
        heads=2,
        skew_s=60.0,
        launches=audit([LaunchRound(0, 100.0, 2), LaunchRound(1, 110.0, 1)], 2.0, 10, 60),
    )
    if "faults" in changes and "head_restarts" not in changes:  # one restart per head killed, none else
        given = cast(list[FaultOutcome], changes["faults"])
        changes["head_restarts"] = sum(1 for fault in given if fault.kind == "head")
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
        ({"launches": audit([LaunchRound(0, 100.0, 1), LaunchRound(1, 101.0, 1)], 2.0, 10, 60)}, "1 double launch"),
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


def test_a_head_that_exits_during_a_store_fault_fails_the_suite() -> None:
    # given a head restarted during the BUSY script, beyond the one restart after the leader's kill
    busy = FaultOutcome("a Lua script held redis-server", 50.0, 2.0, kind="redis-busy", head_restarts=1)
    head, _ = clean_report().faults[1:]
    problems = clean_report(faults=[head, busy], head_restarts=2).failures()
    assert len(problems) == 1 and "1 restarts beyond the 1 kills" in problems[0], problems
    assert "a Lua script held redis-server (1)" in problems[0]


def test_a_killed_leader_that_nobody_replaced_fails_the_suite() -> None:
    never = FaultOutcome("SIGKILL of the leading ebbflow head", 40.0, 5.0, kind="head", head_restarts=1)
    problems = clean_report(faults=[never]).failures()
    assert problems == ["a killed leader was not replaced: no head said it led afterwards"]


def test_rounds_of_one_head_a_period_apart_are_not_double_launches() -> None:
    # given the leader launching every period, then after a failover the other head, a TTL later
    rounds = [LaunchRound(0, 100.0 + 2 * n, 3) for n in range(5)] + [LaunchRound(1, 114.0, 3)]
    found = audit(rounds, period_s=2.0, cap_per_round=3, cap_per_hour=18)
    assert (found.double_launches, found.max_per_round, found.max_per_hour) == (0, 3, 18)
    assert found.failures() == [] and found.heads_that_launched == 2 and found.launches == 18


def test_two_heads_launching_within_one_period_break_the_round_cap() -> None:
    found = audit([LaunchRound(0, 100.0, 3), LaunchRound(1, 101.5, 2)], period_s=2.0, cap_per_round=3, cap_per_hour=60)
    assert found.double_launches == 1 and found.max_per_round == 5
    assert found.failures() == [
        "1 double launches (two heads launched within one period)",
        "5 launched in one round, above the cap of 3",
    ]


def test_launches_beyond_the_hourly_cap_are_found_within_any_hour() -> None:
    rounds = [LaunchRound(n % 2, 100.0 + 590 * n, 2) for n in range(7)]  # 14 within 3540 s
    assert audit(rounds, 2.0, 10, 12).failures() == ["14 launched within an hour, above the cap of 12"]
    assert audit(rounds[1:], 2.0, 10, 12).failures() == []


def test_the_audit_reads_the_rounds_that_launched_from_a_decision_log_and_its_rotated_files(tmp_path: Path) -> None:
    log = tmp_path / "autoscaler-head-1.jsonl"
    older = [{"at": 10.0, "acted": True, "launches": {"spot-4": 2}}]
    lines = [
        {"at": 12.0, "acted": True, "launches": {"spot-4": 1, "ondemand-2": 1}},
        {"at": 14.0, "acted": False, "hold": "hold: inputs unavailable"},  # a round whose inputs failed
        {"at": 16.0, "acted": True, "launches": {}, "drains": ["n1"]},  # a drain, not a launch
    ]
    log.with_name(f"{log.name}.1").write_text("".join(json.dumps(line) + "\n" for line in older))
    log.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"at": 18.0, "acted": tr')  # torn by a kill
    assert read_rounds(log, head=1) == [LaunchRound(1, 10.0, 2), LaunchRound(1, 12.0, 2)]
