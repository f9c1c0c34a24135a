"""The autoscaler's decision log as `ebbflow status` and `/metrics` read it: each line parsed into a typed record.

The log is written by another process and by older versions of it, so reading is lenient: fields it does not
know are ignored, missing ones take empty defaults, and a line that is not a decision at all is skipped. A
round that could not read its inputs logs only at, acted and hold, so its `nodes` is None ("not observed"),
which is not the same as an empty fleet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from autoscaler.decision_log import DecisionLog

Kind = Literal["launch", "drain", "hold", "none"]
KINDS: tuple[Kind, ...] = ("launch", "drain", "hold", "none")


class LoggedDecision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    at: float  # epoch seconds
    acted: bool = False
    hold: str | None = None
    launches: dict[str, int] = {}
    drains: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    clamps: tuple[str, ...] = ()
    need_slots: dict[str, float] = {}
    have_slots: dict[str, float] = {}
    busy_slots: dict[str, float] = {}
    nodes: dict[str, int] | None = None  # "<node type>:<state>" -> count; None: the fleet was not observed

    @property
    def kind(self) -> Kind:
        """One kind per decision, so the kinds add up to the decisions; a replacement (launch and drain) is a
        launch, as the new capacity is what it was for."""
        if self.hold:
            return "hold"
        if any(n > 0 for n in self.launches.values()):
            return "launch"
        return "drain" if self.drains else "none"

    @property
    def why(self) -> str | None:
        """The first reason, else the first clamp; a hold's own message first."""
        return self.hold or next(iter((*self.reasons, *self.clamps)), None)

    def node_counts(self) -> dict[tuple[str, str], int]:
        """(node type, state) -> nodes; split at the last colon, as a state never holds one."""
        counts: dict[tuple[str, str], int] = {}
        for key, count in (self.nodes or {}).items():
            node_type, _, state = key.rpartition(":")
            counts[(node_type, state)] = counts.get((node_type, state), 0) + count
        return counts


def parse(records: list[dict[str, Any]]) -> list[LoggedDecision]:
    return list(parse_each(records))


def parse_each(records: Iterable[dict[str, Any]]) -> Iterator[LoggedDecision]:
    for record in records:
        try:
            yield LoggedDecision.model_validate(record)
        except ValidationError:
            continue  # not a decision this version can read; the others still are


def recent_decisions(path: str | Path, count: int) -> list[LoggedDecision] | str:
    """The last `count` decisions, oldest first ([] when nothing was logged), or why the log cannot be read."""
    try:
        return parse(DecisionLog(path).tail(count))
    except OSError as err:
        return f"{path}: {err}"


def decisions_after(path: str | Path, after_s: float, limit: int) -> list[LoggedDecision] | str:
    """The decisions logged after `after_s` (at most the last `limit`), and the last one whatever its time,
    oldest first; or why the log cannot be read. Reading stops at the first older decision, so a `/metrics`
    scrape reads what was logged since the one before it."""
    taken: list[LoggedDecision] = []
    try:
        for decision in parse_each(islice(DecisionLog(path).newest_first(), limit)):
            if taken and decision.at <= after_s:
                break
            taken.append(decision)
    except OSError as err:
        return f"{path}: {err}"
    taken.reverse()
    return taken
