"""The capacity sections of `ebbflow status`: oldest waits against the autoscaler's targets, and what the
autoscaler last logged (slots in flight per pool, the fleet per node type, its last decisions).

Pure: figures in, renderables out. `now_s` is passed in, so a watch redraw ages the decisions it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

from rich.console import Group, RenderableType
from rich.table import Column, Table
from rich.text import Text

from autoscaler.config import AutoscalerConfig
from autoscaler.fleet import NodeState
from ebbflow.durations import format_duration_ms
from ebbflow.logged_decisions import LoggedDecision
from ebbflow.render import level_name
from ebbflow.reports import LevelStatus
from scheduler.config import SchedulerConfig

SHOWN_DECISIONS = 5
DECISIONS_READ = 20  # enough that the last figures are found behind a run of holds that observed nothing
STALE_AFTER_S = 600.0  # ten autoscaler periods at the default: it has stopped, or cannot write its log
NO_DECISIONS = "autoscaler: no decisions logged yet (enable [autoscaler] and run `ebbflow head`)"
OVER = "bold red"


def wait_targets(rows: Sequence[LevelStatus], config: SchedulerConfig, policy: AutoscalerConfig) -> Table:
    """Per level, the oldest wait beside the horizon the autoscaler sizes capacity for."""
    table = Table(
        "Level",
        Column("Oldest wait", justify="right"),
        Column("Target", justify="right"),
        "",
        title="Oldest wait vs target",
        caption="targets: autoscaler.horizons_s",
    )
    for row in rows:
        target_s = policy.horizon_s(row.level)
        over = row.oldest_wait_ms is not None and row.oldest_wait_ms > target_s * 1000
        verdict = Text("over target", style=OVER) if over else Text("-" if row.oldest_wait_ms is None else "ok")
        wait = format_duration_ms(row.oldest_wait_ms)
        table.add_row(level_name(config, row.level), wait, format_duration_ms(target_s * 1000), verdict)
    return table


def autoscaler_section(decisions: Sequence[LoggedDecision] | str, now_s: float) -> RenderableType:
    """`decisions` oldest first, or why the log could not be read."""
    if isinstance(decisions, str):
        return Text(f"autoscaler: cannot read the decision log ({decisions})")
    if not decisions:
        return Text(NO_DECISIONS)
    last = decisions[-1]
    parts: list[RenderableType] = [_last_line(last, now_s)]
    if last.nodes is None:
        parts.append(Text("fleet and slots: not observed in the last decision (its inputs could not be read)"))
    else:
        parts += [in_flight(last), fleet(last)]
    parts.append(recent(decisions[-SHOWN_DECISIONS:], now_s))
    return Group(*parts)


def _last_line(last: LoggedDecision, now_s: float) -> Text:
    age_s = now_s - last.at
    line = Text(f"autoscaler: last decision {_ago(age_s)}")
    if age_s > STALE_AFTER_S:
        line.append(
            f"  stale: nothing logged for over {format_duration_ms(STALE_AFTER_S * 1000)} (is it running?)", OVER
        )
    return line


def in_flight(decision: LoggedDecision) -> Table:
    """Busy slots per pool against the slots there or launching, and the slots the policy asked for."""
    table = Table(
        "Pool", *(Column(name, justify="right") for name in ("Busy", "Have", "Need")), title="In flight per pool"
    )
    markets = sorted({*decision.busy_slots, *decision.have_slots, *decision.need_slots})
    for market in markets:
        busy, have = decision.busy_slots.get(market), decision.have_slots.get(market)
        need = decision.need_slots.get(market)
        table.add_row(market, _count(busy), _count(have), "-" if need is None else f"{need:.1f}")
    return table


def fleet(decision: LoggedDecision) -> RenderableType:
    counts = decision.node_counts()
    if not counts:
        return Text("fleet: no nodes")
    seen = {state for _, state in counts}
    states = [s for s in get_args(NodeState) if s in seen] + sorted(seen - set(get_args(NodeState)))
    table = Table("Node type", *(Column(s, justify="right") for s in states), title="Fleet per node type")
    for node_type in sorted({node_type for node_type, _ in counts}):
        table.add_row(node_type, *(str(counts.get((node_type, state), 0)) for state in states))
    return table


def recent(decisions: Sequence[LoggedDecision], now_s: float) -> Table:
    table = Table("When", "Did", "Why", title="Last autoscaler decisions (newest first)")
    for decision in reversed(decisions):
        style = "yellow" if decision.kind == "hold" or (not decision.reasons and decision.clamps) else ""
        table.add_row(_ago(now_s - decision.at), _did(decision), Text(decision.why or "-", style=style))
    return table


def _did(decision: LoggedDecision) -> str:
    if decision.kind == "hold":
        return "hold"
    launched = ", ".join(f"{n} x {name}" for name, n in sorted(decision.launches.items()) if n > 0)
    did = [f"launch {launched}"] if launched else []
    did += [f"drain {len(decision.drains)}"] if decision.drains else []
    return "; ".join(did) or "nothing"


def _ago(age_s: float) -> str:
    return f"{format_duration_ms(max(0.0, age_s) * 1000)} ago"


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
