"""What the whole fault suite (bench/fault_suite.py) found: per fault when work resumed, when the spot
capacity was back and (a killed leader) when another head led, per job what became of it, and whether the
guard's launch limits held across the heads; `failures()` lists what breaks a promise of issues 9 and 18."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from bench.launch_audit import LaunchAudit


@dataclass(frozen=True)
class FaultOutcome:
    what: str
    at_s: float  # since the head first started
    resumed_s: float | None  # from the fault's end until a job finished that was not running at the fault
    capacity_back_s: float | None = None  # a node loss: until the spot slots were back to what they were
    note: str = ""  # "node" for a node loss, "skipped" when there was no node to take down
    ended_s: float = 0.0
    slots_before: int = 0  # spot slots just before a node loss
    idle: bool = False  # nothing was waiting when the fault ended: no work to resume
    capacity_kept: bool = False  # a node loss whose slots never went missing: the replacement was up first
    kind: str = ""  # the FaultKind
    failover_s: float | None = None  # a killed leader: until another head's /metrics said it leads
    head_restarts: int = 0  # by the supervisor, from the fault's start until work resumed


@dataclass(frozen=True)
class CapacitySample:
    at_s: float
    spot_slots: int
    waiting: int  # jobs pending or delayed: the autoscaler has a reason to keep (or bring back) capacity


@dataclass
class SuiteReport:
    faults: list[FaultOutcome]
    records: int  # fault.record jobs submitted
    records_done: int
    misbehaving: dict[str, tuple[int, int]]  # type -> (submitted, dead with the reason its fault gives)
    dead: int
    dead_without_reason: int
    unexpected_dead: list[str]  # "id type: error" of dead jobs that should have completed
    lost: int  # submitted jobs neither completed nor dead-lettered
    duplicated_effects: int
    runs_beyond_one: int
    leases_left: int
    cron_ticks: int
    doubled_ticks: int
    head_restarts: int
    elapsed_s: float
    capacity: list[CapacitySample] = field(default_factory=list)
    heads: int = 1
    skew_s: float = 0.0  # the wall clock of every head after the first, this far ahead
    launches: LaunchAudit | None = None

    @property
    def head_kills(self) -> int:
        return sum(1 for fault in self.faults if fault.kind == "head")

    @property
    def failovers(self) -> list[float | None]:
        return [fault.failover_s for fault in self.faults if fault.kind == "head"]

    def failures(self) -> list[str]:
        problems = []
        if self.head_restarts > self.head_kills:
            exited = [f"{fault.what} ({fault.head_restarts})" for fault in self.faults if _exited_by_itself(fault)]
            problems.append(
                f"heads exited by themselves: {self.head_restarts - self.head_kills} restarts beyond the "
                f"{self.head_kills} kills" + (f", during: {'; '.join(exited)}" if exited else "")
            )
        if any(seconds is None for seconds in self.failovers):
            problems.append("a killed leader was not replaced: no head said it led afterwards")
        if self.launches is not None:
            problems += self.launches.failures()
        if self.lost:
            problems.append(f"{self.lost} jobs lost")
        if self.duplicated_effects or self.doubled_ticks:
            problems.append(f"{self.duplicated_effects} effects twice ({self.doubled_ticks} of them cron ticks)")
        if self.leases_left:
            problems.append(f"{self.leases_left} leases left")
        if self.dead_without_reason:
            problems.append(f"{self.dead_without_reason} dead letters without a reason")
        if self.unexpected_dead:
            problems.append(f"dead letters that should have completed: {self.unexpected_dead[:5]}")
        for job_type, (submitted, dead) in self.misbehaving.items():
            if dead != submitted:
                problems.append(f"{job_type}: {dead} of {submitted} dead-lettered with the expected reason")
        if self.records_done != self.records:
            problems.append(f"fault.record: {self.records_done} of {self.records} completed")
        problems += [
            f"{fault.what}: work did not resume" for fault in self.faults if fault.resumed_s is None and not fault.idle
        ]
        losses = [fault for fault in self.faults if fault.note.startswith("node")]
        if losses and not any(fault.capacity_back_s is not None or fault.capacity_kept for fault in losses):
            problems.append("the autoscaler never brought the spot capacity back after a node loss")
        return problems

    def rows(self) -> list[tuple[str, str]]:
        misbehaving = sum(submitted for submitted, _ in self.misbehaving.values())
        return [
            ("faults injected", str(len(self.faults))),
            ("heads (the wall clock of all but the first ahead by)", f"{self.heads} ({self.skew_s:+g} s)"),
            ("head restarts (by the supervisor) / of them after a kill", f"{self.head_restarts} / {self.head_kills}"),
            ("leader failovers (kill until another head led)", _failovers(self.failovers)),
            ("jobs submitted (fault.record + misbehaving)", f"{self.records + misbehaving}"),
            ("completed (fault.record)", f"{self.records_done} of {self.records}"),
            ("dead-lettered (each with its reason)", f"{self.dead} ({self.dead - self.dead_without_reason})"),
            ("  of them misbehaving jobs, reason as expected", _misbehaving(self.misbehaving)),
            ("  of them jobs that should have completed", str(len(self.unexpected_dead))),
            ("lost (must be 0)", str(self.lost)),
            ("duplicated effects (must be 0)", str(self.duplicated_effects)),
            ("cron ticks run / doubled (must be 0)", f"{self.cron_ticks} / {self.doubled_ticks}"),
            ("runs beyond one per job (re-runs after a lost ack or node)", str(self.runs_beyond_one)),
            ("leases left (must be 0)", str(self.leases_left)),
            *_launch_rows(self.launches),
            ("head start to settled", f"{self.elapsed_s:.0f} s"),
        ]

    def print(self, title: str, console: Console) -> None:
        summary = Table(title=title)
        summary.add_column("what")
        summary.add_column("figure", justify="right")
        for what, figure in self.rows():
            summary.add_row(what, figure)
        console.print(summary)
        faults = Table(title="recovery per fault")
        for column in ("at", "fault", "work resumed after", "spot capacity back after"):
            faults.add_column(column, justify="left" if column == "fault" else "right")
        for fault in self.faults:
            lost_node = fault.note.startswith("node")
            back = _seconds(fault.capacity_back_s, "not while work waited") if lost_node else "-"
            if fault.capacity_kept:
                back = "kept: a replacement was up first"
            resumed = "nothing was waiting" if fault.idle else _seconds(fault.resumed_s, "never")
            faults.add_row(f"{fault.at_s:.0f} s", fault.what, resumed, back)
        console.print(faults)


def _exited_by_itself(fault: FaultOutcome) -> bool:
    return fault.head_restarts > (1 if fault.kind == "head" else 0)


def _failovers(seconds: list[float | None]) -> str:
    return f"{len(seconds)}: " + ", ".join(_seconds(s, "never") for s in seconds) if seconds else "0"


def _launch_rows(launches: LaunchAudit | None) -> list[tuple[str, str]]:
    if launches is None:
        return []
    return [
        (
            "autoscaler launches / rounds / heads that launched",
            f"{launches.launches} / {launches.rounds} / {launches.heads_that_launched}",
        ),
        ("double launches: two heads within one period (must be 0)", str(launches.double_launches)),
        ("most launched in one round / cap", f"{launches.max_per_round} / {launches.cap_per_round}"),
        ("most launched within an hour / cap", f"{launches.max_per_hour} / {launches.cap_per_hour}"),
    ]


def _seconds(value: float | None, otherwise: str) -> str:
    return otherwise if value is None else f"{value:.1f} s"


def _misbehaving(counts: dict[str, tuple[int, int]]) -> str:
    return ", ".join(f"{name.removeprefix('fault.')} {dead}/{submitted}" for name, (submitted, dead) in counts.items())


def capacity_back_s(samples: Sequence[CapacitySample], at_s: float, before: int) -> float | None:
    """Seconds after `at_s` until the spot slots were `before` again, once Ray had seen the node go (its
    slots drop only when the GCS declares it dead, 2-3 s after a kill); None if work stopped waiting first
    (then there was nothing to bring capacity back for) or the samples end."""
    seen_loss = False
    for sample in samples:
        if sample.at_s <= at_s:
            continue
        if not seen_loss:
            seen_loss = sample.spot_slots < before
        elif sample.spot_slots >= before:
            return sample.at_s - at_s
        if sample.waiting == 0:
            return None
    return None


KEPT_WATCH_S = 6.0  # Ray shows a dead node's slots gone 2-3 s after the kill: watched this long, none went


def capacity_kept(samples: Sequence[CapacitySample], at_s: float, before: int) -> bool:
    """Whether the spot slots never fell below `before` for KEPT_WATCH_S after `at_s` while work waited: a
    drain notice let the autoscaler start the replacement before the node went."""
    watched = [s for s in samples if at_s < s.at_s <= at_s + KEPT_WATCH_S]
    if not watched or watched[-1].at_s < at_s + KEPT_WATCH_S - 1.5 or any(s.waiting == 0 for s in watched):
        return False
    return all(sample.spot_slots >= before for sample in watched)
