"""How the autoscaler's decisions look in the terminal: one decision in full, or the log as a table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from autoscaler.deadlines import DEADLINE_REASON
from autoscaler.decide import Decision


def decision(made: Decision, dry_run: bool) -> RenderableType:
    head = "dry run: nothing was done" if dry_run else ("acted" if made.acts else "nothing to do")
    lines: list[RenderableType] = [Text(f"autoscaler decision ({head})", style="bold")]
    if made.hold:
        lines.append(Text(made.hold, style="yellow"))
    need = ", ".join(f"{m.value} {n:.1f}" for m, n in made.need_slots.items()) or "-"
    have = ", ".join(f"{m.value} {n}" for m, n in made.have_slots.items()) or "-"
    lines.append(Text(f"slots needed: {need}   slots there or launching: {have}"))
    launches = ", ".join(f"{count} x {name}" for name, count in sorted(made.launches.items())) or "none"
    lines.append(Text(f"launch: {launches}   drain: {', '.join(made.drains) or 'none'}"))
    if made.ondemand_for:
        bought = ", ".join(f"level {level} {slots:.1f} slots" for level, slots in sorted(made.ondemand_for.items()))
        lines.append(Text(f"on-demand for work spot cannot make in time: {bought}", style="bold"))
    lines += [Text(f"  why: {reason}") for reason in made.reasons]
    lines += [Text(f"  clamped: {clamp}", style="yellow") for clamp in made.clamps]
    return Group(*lines)


def decision_log(entries: Sequence[dict[str, Any]]) -> RenderableType:
    if not entries:
        return Text("no decisions logged yet")
    table = Table(title="autoscaler decisions, oldest first")
    columns = ("time (UTC)", "pending", "arriving", "need / have spot", "on-demand for", "launch", "drain", "why")
    for column in columns:
        table.add_column(column, justify="right" if column in ("pending", "arriving") else "left", overflow="fold")
    for item in entries:
        when = dt.datetime.fromtimestamp(float(item.get("at", 0)), dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        need, have = item.get("need_slots", {}), item.get("have_slots", {})
        launches = ", ".join(f"{n} x {name}" for name, n in item.get("launches", {}).items()) or "-"
        bought = item.get("ondemand_for") or {}
        table.add_row(
            when,
            str(item.get("pending", "-")),
            "-" if item.get("arriving_slots") is None else f"{item['arriving_slots']:.1f}",
            f"{need.get('spot', '-')} / {have.get('spot', '-')}",
            ", ".join(f"L{level}: {slots:.1f}" for level, slots in sorted(bought.items())) or "-",
            launches,
            ", ".join(item.get("drains", [])) or "-",
            _why(item),
        )
    return table


def _why(item: dict[str, Any]) -> str:
    """The hold, else the reasons that matter most: when on-demand was bought for work spot cannot make in
    time, the deadline reasoning of each such level (it says what spot could deliver and why that was not
    enough); otherwise the last two reasons. Clamps always."""
    if item.get("hold"):
        return str(item["hold"])
    reasons = [str(reason) for reason in item.get("reasons", [])]
    deadline = [reason for reason in reasons if reason.startswith(DEADLINE_REASON)]
    chosen = deadline if item.get("ondemand_for") and deadline else reasons[-2:]
    return "; ".join([*chosen, *item.get("clamps", [])]) or "-"
