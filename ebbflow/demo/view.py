"""How the demo looks: the live view while it runs, and the summary after."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.progress_bar import ProgressBar
from rich.table import Column, Table
from rich.text import Text

from autoscaler.decide import Decision
from autoscaler.fleet import FleetNode, NodeType
from dispatcher.inflight import DispatchCounts
from dispatcher.markets import Market
from ebbflow.demo.report import DemoReport
from ebbflow.durations import format_duration_ms
from scheduler.store import QueueStats

SIDE_BY_SIDE_WIDTH = 100  # the two tables need about 95 columns


@dataclass(frozen=True, slots=True)
class LiveState:
    elapsed_s: float
    duration_s: float
    stats: QueueStats
    now_ms: int
    level_names: Sequence[str]
    nodes: Sequence[FleetNode]
    node_types: Sequence[NodeType]
    busy: dict[Market, int]
    decision: Decision | None
    decision_age_s: float | None
    counts: DispatchCounts
    events: Sequence[str]
    spot_prices: dict[str, float]


def _num(header: str) -> Column:
    return Column(header, justify="right")


def live_view(state: LiveState) -> RenderableType:
    clock = Text(f"ebbflow demo  {_mmss(state.elapsed_s)} / {_mmss(state.duration_s)}", style="bold")
    bar = ProgressBar(total=state.duration_s, completed=min(state.elapsed_s, state.duration_s), width=40)
    top = Table.grid(padding=(0, 2))
    top.add_row(clock, bar)
    side = _SideBySide(_levels(state), _fleet(state))
    c = state.counts
    dispatch = Text(
        f"dispatcher: done {c.done:,}  retried {c.retried}  preempted {c.preempted}  dead {c.dead}  "
        f"tasks {c.tasks:,} (spot {c.per_market[Market.SPOT]:,}, on-demand {c.per_market[Market.ON_DEMAND]:,})"
    )
    return Group(top, side, dispatch, _decision(state), _events(state.events))


class _SideBySide:
    """Two tables side by side where the terminal is wide enough, else one above the other."""

    def __init__(self, left: Table, right: Table) -> None:
        self.left, self.right = left, right

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.max_width >= SIDE_BY_SIDE_WIDTH:
            grid = Table.grid(padding=(0, 3))
            grid.add_row(self.left, self.right)
            yield grid
        else:
            yield self.left
            yield self.right


def _levels(state: LiveState) -> Table:
    table = Table("level", _num("pending"), _num("running"), _num("oldest wait"), title="queue", title_justify="left")
    for level, name in enumerate(state.level_names):
        pending = sum(n for (lvl, _), n in state.stats.pending.items() if lvl == level)
        running = sum(n for (lvl, _), n in state.stats.running.items() if lvl == level)
        oldest = state.stats.oldest_enqueued_ms.get(level)
        wait = format_duration_ms(state.now_ms - oldest) if oldest is not None and pending else "-"
        table.add_row(name, f"{pending:,}", f"{running:,}", wait)
    table.add_row("dead letters", str(state.stats.dead), "", "", style="dim")
    return table


def _fleet(state: LiveState) -> Table:
    table = Table("node type", "market", _num("up"), _num("starting"), _num("$/h"), title="fleet", title_justify="left")
    by_type = Counter((node.node_type, node.state) for node in state.nodes)
    for node_type in state.node_types:
        up = by_type[(node_type.name, "running")] + by_type[(node_type.name, "draining")]
        price = state.spot_prices.get(node_type.name, node_type.ondemand_price)
        table.add_row(
            node_type.name, node_type.market.value, str(up), str(by_type[(node_type.name, "launching")]), f"{price:.3f}"
        )
    busy = "  ".join(f"{market.value} {state.busy.get(market, 0)} busy" for market in Market)
    table.caption = f"slots: {busy}"
    return table


def describe_actions(decision: Decision) -> str:
    """What a decision does, e.g. "+2 spot-m5xl-a; drain 1 node(s)" ("" when it does nothing)."""
    launches = ", ".join(f"+{n} {name}" for name, n in decision.launches.items() if n > 0)
    drains = f"drain {len(decision.drains)} node(s)" if decision.drains else ""
    return "; ".join(part for part in (launches, drains) if part)


def _decision(state: LiveState) -> RenderableType:
    decision = state.decision
    if decision is None:
        return Text("autoscaler: no decision yet", style="dim")
    if decision.hold:
        what = decision.hold
    elif decision.acts:
        what = describe_actions(decision)
    else:
        what = "no change"
    age = f" ({state.decision_age_s:.0f} s ago)" if state.decision_age_s is not None else ""
    lines = [Text.assemble(("autoscaler", "bold"), f"{age}: {what}")]
    lines += [Text(f"  why: {reason}", style="dim") for reason in (*decision.reasons, *decision.clamps)[:3]]
    return Group(*lines)


def _events(events: Sequence[str]) -> RenderableType:
    return Group(Text("recent events", style="bold"), *(Text(f"  {event}") for event in events))


def _mmss(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def summary_view(report: DemoReport) -> RenderableType:
    levels = Table("level", _num("finished"), _num("wait p50"), _num("wait p99"), title="jobs per level")
    for figures in report.levels:
        levels.add_row(
            figures.name,
            f"{figures.finished:,}",
            format_duration_ms(figures.wait.p50_ms),
            format_duration_ms(figures.wait.p99_ms),
        )
    types = Table("job type", _num("finished"), title="jobs per type")
    for name, finished in sorted(report.finished_per_type.items()):
        types.add_row(name, f"{finished:,}")
    grid = Table.grid(padding=(0, 3))
    grid.add_row(levels, types)
    c, cost = report.counts, report.cost
    saved = 1 - cost.cost_usd / cost.ondemand_usd if cost.ondemand_usd else 0.0
    node_minutes = ", ".join(f"{market.value} {cost.node_s[market] / 60:.1f}" for market in Market)
    peaks = ", ".join(f"{market.value} {cost.peak_nodes[market]}" for market in Market)
    lines = [
        Text(f"ran {_mmss(report.run_s)} (seed {report.seed}); queued {sum(report.submitted.values()):,} jobs: "
             + ", ".join(f"{kind} {n:,}" for kind, n in report.submitted.items())),
        Text(f"spot reclaims survived: {len(report.reclaimed_nodes)} node(s) killed without notice, "
             f"{c.preempted} job run(s) requeued and run again, {c.lost} lost; dead letters: {report.dead_letters}"),
        Text(f"still queued at the end: {report.left_pending:,} (kept in the queue)"),
        Text(f"fleet: peak nodes {peaks}; node-minutes {node_minutes}; "
             f"autoscaler launched {report.launches}, drained {report.drains}"),
        Text(f"cost estimate: ${cost.cost_usd:.4f} (on demand for the same node-hours: ${cost.ondemand_usd:.4f}, "
             f"{saved:.0%} saved)"),
        Text(f"videos: {report.videos_indexed:,} in the index, {report.videos_stale:,} marked stale"),
    ]  # fmt: skip
    if report.chart is not None:
        lines.append(Text(f"queue-tracking chart: {report.chart}", style="bold"))
    return Group(grid, *lines)
