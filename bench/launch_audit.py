"""The guard's limits, checked from what the heads' autoscalers wrote down: each head of the fault suite logs
its decisions to a file of its own (autoscaler/decision_log.py), stamped on the store's clock, so the rounds of
both heads lie on one time line. Only a leader runs the autoscaler (docs/heads.md): two heads launching within
one period is a double launch, and the per-round and hourly caps hold for all heads together."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autoscaler.log_files import rotated

HOUR_S = 3600.0


@dataclass(frozen=True)
class LaunchRound:
    head: int
    at_s: float  # the store's clock
    launches: int  # nodes of every type this round asked for


@dataclass(frozen=True)
class LaunchAudit:
    rounds: int  # rounds that launched, all heads together
    launches: int
    heads_that_launched: int
    max_per_round: int  # the most launched within one period, all heads together
    max_per_hour: int  # the most launched within any hour, all heads together
    double_launches: int  # pairs of rounds of two heads, both launching within one period
    cap_per_round: int  # the guard's max_launch_per_decision
    cap_per_hour: int  # the guard's max_launch_per_hour

    def failures(self) -> list[str]:
        problems = []
        if self.double_launches:
            problems.append(f"{self.double_launches} double launches (two heads launched within one period)")
        if self.max_per_round > self.cap_per_round:
            problems.append(f"{self.max_per_round} launched in one round, above the cap of {self.cap_per_round}")
        if self.max_per_hour > self.cap_per_hour:
            problems.append(f"{self.max_per_hour} launched within an hour, above the cap of {self.cap_per_hour}")
        return problems


def read_rounds(path: Path, head: int, backups: int = 10) -> list[LaunchRound]:
    """The rounds of `head` that launched, from its decision log and its rotated files."""
    rounds = []
    for index in range(backups, -1, -1):
        file = rotated(path, index)
        if not file.exists():
            continue
        for line in file.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:  # a line torn by a kill -9 of the head that wrote it
                continue
            launched = sum(int(n) for n in (entry.get("launches") or {}).values())
            if entry.get("acted") and launched:
                rounds.append(LaunchRound(head, float(entry["at"]), launched))
    return rounds


def audit(rounds: Sequence[LaunchRound], period_s: float, cap_per_round: int, cap_per_hour: int) -> LaunchAudit:
    ordered = sorted(rounds, key=lambda r: r.at_s)
    per_round = per_hour = double = 0
    for n, first in enumerate(ordered):
        later = ordered[n + 1 :]
        # one head's rounds are a period apart: within one period, a round of another head is a second launcher
        together = [r for r in later if r.at_s - first.at_s < period_s and r.head != first.head]
        double += len(together)
        per_round = max(per_round, first.launches + sum(r.launches for r in together))
        per_hour = max(per_hour, first.launches + sum(r.launches for r in later if r.at_s - first.at_s < HOUR_S))
    return LaunchAudit(
        rounds=len(ordered),
        launches=sum(r.launches for r in ordered),
        heads_that_launched=len({r.head for r in ordered}),
        max_per_round=per_round,
        max_per_hour=per_hour,
        double_launches=double,
        cap_per_round=cap_per_round,
        cap_per_hour=cap_per_hour,
    )
