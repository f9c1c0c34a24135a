"""The queue-tracking chart (`ebbflow chart`): what the queue and the fleet did over a window of time.

Four panels share the time axis: queue depth per level and nodes per market (from the autoscaler's decision
log, one point per decision), jobs finished per minute per level (from the scheduler's history), and the
spot price per spot node type with the fleet's cost rate. A `.png` is the figure alone; an `.html` page
holds the same figure as inline SVG and a table of totals, so it can be mailed or archived as one file.

matplotlib is imported inside the drawing functions only: it takes a second to load, and `ebbflow --help`
and every other command should not pay for it.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoscaler.decision_log import DecisionLog
from dispatcher.markets import Market
from scheduler.errors import ConfigError
from scheduler.store import HistoryBucket

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ebbflow.config import Settings
    from scheduler.queue import Scheduler

SUFFIXES = (".png", ".html")
FIGURE_SIZE_IN = (11.0, 10.0)
DPI = 100  # a PNG is FIGURE_SIZE_IN x DPI pixels: 1100 x 1000
MARKETS = tuple(market.value for market in Market)
MAX_TICKS = 12
TICK_STEPS_S = (60, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400)
EMPTY_NOTE = "no jobs finished and no autoscaler decisions in this window"
# A decision is logged every autoscaler.period_s; restarts and holds add a few more, so twice that many
# lines (plus some) reach back over the whole window.
TAIL_FACTOR = 2
TAIL_SLACK = 100


@dataclass(frozen=True, slots=True)
class ChartData:
    """Everything the chart draws, aligned on two time axes: the decisions' times and the window's minutes.

    None in a series means "not logged then" (a hold, or a line from before the field existed): a gap in
    the line, not a zero.
    """

    since_s: float
    until_s: float
    levels: tuple[str, ...]  # level names in level order (plus "level N" for a level the config lacks)
    decision_s: tuple[float, ...]  # epoch seconds of each decision in the window, oldest first
    depth: Mapping[str, tuple[int | None, ...]]  # per level name: pending jobs at each decision
    nodes: Mapping[str, tuple[int | None, ...]]  # per market ("spot", "on-demand"): nodes at each decision
    cost_per_hour: tuple[float | None, ...]  # the fleet's $/hour at each decision
    spot_prices: Mapping[str, tuple[float | None, ...]]  # per spot node type: $/hour at each decision
    minute_s: tuple[float, ...]  # epoch seconds of the start of each minute in the window
    finished: Mapping[str, tuple[int, ...]]  # per level name: runs that ended in each minute

    @property
    def empty(self) -> bool:
        return not self.decision_s and not any(sum(counts) for counts in self.finished.values())


@dataclass(frozen=True, slots=True)
class ChartTotals:
    finished: Mapping[str, int]  # per level name: jobs finished in the window
    peak_depth: Mapping[str, int | None]  # per level name; None: never logged
    peak_nodes: Mapping[str, int | None]  # per market
    cost: float | None  # $ spent in the window (the integral of the cost rate); None: never logged


# -- data ----------------------------------------------------------------------------------------------------


def chart_data(
    history: Sequence[HistoryBucket],
    decisions: Sequence[Mapping[str, Any]],
    level_names: Sequence[str],
    since_s: float,
    until_s: float,
) -> ChartData:
    """Align the history (per minute) and the decision log (per decision) on the window [since_s, until_s]."""
    inside = sorted((e for e in decisions if _is_in(_number(e.get("at")), since_s, until_s)), key=_at)
    first, last = math.floor(since_s / 60), math.floor(until_s / 60)
    buckets = [b for b in history if first <= b.minute <= last]
    levels = _levels(level_names, {b.level for b in buckets} | _logged_levels(inside))
    prices = sorted({name for e in inside for name in _mapping(e, "spot_prices")})
    return ChartData(
        since_s=since_s,
        until_s=until_s,
        levels=tuple(levels.values()),
        decision_s=tuple(_at(e) for e in inside),
        depth={name: _counts(inside, "pending_by_level", str(index)) for index, name in levels.items()},
        nodes={market: _counts(inside, "nodes_by_market", market) for market in MARKETS},
        cost_per_hour=tuple(_number(e.get("cost_per_hour")) for e in inside),
        spot_prices={name: _prices(inside, name) for name in prices},
        minute_s=tuple(float(minute * 60) for minute in range(first, last + 1)),
        finished={name: _per_minute(buckets, index, first, last) for index, name in levels.items()},
    )


def totals(data: ChartData) -> ChartTotals:
    return ChartTotals(
        finished={name: sum(data.finished[name]) for name in data.levels},
        peak_depth={name: _peak(data.depth[name]) for name in data.levels},
        peak_nodes={market: _peak(data.nodes[market]) for market in MARKETS},
        cost=window_cost(data),
    )


def window_cost(data: ChartData) -> float | None:
    """$ over the window: each logged cost rate holds until the next decision (the last one until the end of
    the window), as the fleet stays what it is between decisions. Stretches after a decision that did not
    log a cost (a hold, an older line) count nothing, so this is a lower bound where the log has gaps."""
    ends = (*data.decision_s[1:], data.until_s) if data.decision_s else ()
    rates = zip(data.decision_s, ends, data.cost_per_hour, strict=True)
    spans = [(rate, end - start) for start, end, rate in rates if rate is not None]
    return None if not spans else sum(rate * seconds / 3600 for rate, seconds in spans)


def _levels(names: Sequence[str], seen: set[int]) -> dict[int, str]:
    """Level index -> name, for every configured level and any other the data holds (a store or a log can
    hold levels that a changed config no longer names)."""
    indexes = sorted(set(range(len(names))) | seen)
    return {index: names[index] if index < len(names) else f"level {index}" for index in indexes}


def _logged_levels(decisions: Sequence[Mapping[str, Any]]) -> set[int]:
    return {int(key) for e in decisions for key in _mapping(e, "pending_by_level") if str(key).isdigit()}


def _counts(decisions: Sequence[Mapping[str, Any]], field: str, key: str) -> tuple[int | None, ...]:
    """decisions[i][field][key] for each decision: 0 where the field is there without the key (a level with
    nothing pending is not logged), None where the field is missing or the value is not a number."""
    values: list[int | None] = []
    for e in decisions:
        logged = e.get(field)
        value = _number(logged.get(key, 0)) if isinstance(logged, Mapping) else None
        values.append(None if value is None else round(value))
    return tuple(values)


def _prices(decisions: Sequence[Mapping[str, Any]], node_type: str) -> tuple[float | None, ...]:
    """The spot price of one node type at each decision; None where it was not known then."""
    return tuple(_number(_mapping(e, "spot_prices").get(node_type)) for e in decisions)


def _per_minute(buckets: Sequence[HistoryBucket], level: int, first: int, last: int) -> tuple[int, ...]:
    counts = [0] * (last - first + 1)
    for bucket in buckets:
        if bucket.level == level:
            counts[bucket.minute - first] += bucket.finished
    return tuple(counts)


def _peak(values: Sequence[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None


def _mapping(e: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = e.get(field)
    return value if isinstance(value, Mapping) else {}


def _number(value: object) -> float | None:
    """A finite number from a JSON value, or None (bool is not a number here, though Python says it is)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _is_in(at: float | None, since_s: float, until_s: float) -> bool:
    return at is not None and since_s <= at <= until_s


def _at(e: Mapping[str, Any]) -> float:
    return float(e["at"])


# -- writing -------------------------------------------------------------------------------------------------


def write_queue_chart(settings: Settings, scheduler: Scheduler, since_s: float, until_s: float, path: Path) -> Path:
    """Read the window's history (the scheduler's store) and decisions (autoscaler.log_path), write the chart."""
    path = Path(path)
    check_output(path)  # before reading anything: a typo in -o costs nothing
    history = scheduler.store.history(math.floor(since_s * 1000))
    count = math.ceil((until_s - since_s) / settings.autoscaler.period_s) * TAIL_FACTOR + TAIL_SLACK
    decisions = DecisionLog(settings.autoscaler.log_path).tail(count)
    names = [level.name for level in scheduler.config.levels]
    title = f"ebbflow queue, {_stamp(since_s)} to {_stamp(until_s)} UTC"
    return write_chart(chart_data(history, decisions, names, since_s, until_s), path, title)


def write_chart(data: ChartData, path: Path, title: str) -> Path:
    """The chart as `path`'s suffix says: .png (the figure) or .html (the figure as inline SVG, and totals)."""
    path = Path(path)
    suffix = check_output(path)
    figure = draw(data, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        figure.savefig(path, format="png", dpi=DPI)
    else:
        path.write_text(html_page(title, _svg(figure), totals(data)), encoding="utf-8")
    return path


def check_output(path: Path) -> str:
    """The output's suffix (lower case); ConfigError naming -o for any but the two the chart is drawn as."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"-o: {str(path)!r} must end in {' or '.join(SUFFIXES)} (a PNG image or an HTML page)")
    return suffix


def html_page(title: str, svg: str, sums: ChartTotals) -> str:
    """A page that needs nothing else: no script, no stylesheet or image to fetch."""
    heading = html.escape(title)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            f'<head><meta charset="utf-8"><title>{heading}</title>',
            "<style>body{font-family:sans-serif;margin:1em 2em}svg{max-width:100%;height:auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2em .6em}td{text-align:right}"
            "td:first-child{text-align:left}</style></head>",
            f"<body><h1>{heading}</h1>",
            svg,
            _totals_table(sums),
            "</body></html>",
            "",
        ]
    )


def _totals_table(sums: ChartTotals) -> str:
    rows = ['<table class="totals">', "<caption>totals over the window</caption>"]
    rows.append("<tr><th>level</th><th>jobs finished</th><th>peak depth</th></tr>")
    for name, finished in sums.finished.items():
        rows.append(_row(name, str(finished), _or_dash(sums.peak_depth[name])))
    rows.append('<tr><th>market</th><th colspan="2">peak nodes</th></tr>')
    rows += [_row(market, _or_dash(peak)) for market, peak in sums.peak_nodes.items()]
    cost = "-" if sums.cost is None else f"${sums.cost:.2f}"
    rows.append(_row("estimated cost (the logged $/hour, each held until the next decision)", cost))
    rows.append("</table>")
    return "\n".join(rows)


def _row(label: str, *values: str) -> str:
    span = ' colspan="2"' if len(values) == 1 else ""
    cells = "".join(f"<td{span}>{html.escape(value)}</td>" for value in values)
    return f"<tr><td>{html.escape(label)}</td>{cells}</tr>"


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def _svg(figure: Figure) -> str:
    """The figure as an <svg> element to inline in a page (the XML prolog and doctype left out)."""
    from matplotlib import rc_context

    buffer = io.StringIO()
    # text kept as text (not glyph outlines): a smaller page whose labels can be searched and copied
    with rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _stamp(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).strftime("%Y-%m-%d %H:%M")


# -- drawing -------------------------------------------------------------------------------------------------


def draw(data: ChartData, title: str) -> Figure:
    """Four panels, one above the other, on one time axis (UTC)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGURE_SIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)  # Agg draws without a display, and pyplot's global figures are left alone
    depth, throughput, nodes, cost = figure.subplots(4, 1, sharex=True)
    figure.suptitle(title)
    _draw_depth(depth, data.decision_s, data)
    _draw_throughput(throughput, data.minute_s, data)
    _draw_nodes(nodes, data.decision_s, data)
    _draw_cost(cost, data.decision_s, data)
    _time_axis(cost, data)
    if data.empty:
        note = {"ha": "center", "va": "center", "fontsize": 14, "bbox": {"facecolor": "white", "edgecolor": "gray"}}
        depth.text(0.5, 0.5, EMPTY_NOTE, transform=depth.transAxes, **note)
    return figure


def _draw_depth(ax: Axes, times: Sequence[float], data: ChartData) -> None:
    for name in data.levels:
        ax.plot(times, _gaps(data.depth[name]), label=name, marker="o", markersize=2, linewidth=1)
    _panel(ax, "queue depth per level (at each autoscaler decision)", "jobs pending")


def _draw_throughput(ax: Axes, minutes: Sequence[float], data: ChartData) -> None:
    for name in data.levels:
        ax.step(*_held(minutes, data.finished[name], minutes[-1] + 60 if minutes else 0), where="post", label=name)
    _panel(ax, "throughput per level", "jobs finished / min")


def _draw_nodes(ax: Axes, times: Sequence[float], data: ChartData) -> None:
    for market in MARKETS:
        ax.step(*_held(times, _gaps(data.nodes[market]), data.until_s), where="post", label=market)
    _panel(ax, "nodes per market (launching, running or draining)", "nodes")


def _draw_cost(ax: Axes, times: Sequence[float], data: ChartData) -> None:
    """Spot prices (left axis) and the whole fleet's cost rate (right axis): both $/hour, but the fleet's is
    the sum over its nodes, often ten times a single node's price."""
    for name, prices in data.spot_prices.items():
        ax.step(*_held(times, _gaps(prices), data.until_s), where="post", label=name, linewidth=1)
    fleet = ax.twinx()
    cost = _held(times, _gaps(data.cost_per_hour), data.until_s)
    fleet.step(*cost, where="post", label="fleet cost", color="black", linestyle="--")
    fleet.set_ylabel("fleet $/hour")
    fleet.set_ylim(bottom=0)
    _panel(ax, "spot price per node type, and the fleet's cost rate", "spot $/hour per node", fleet)


def _panel(ax: Axes, title: str, ylabel: str, *more: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_title(title, loc="left", fontsize=10)
    ax.set_ylabel(ylabel)
    if not more:  # counts: jobs and nodes come whole, and nothing at all still shows 0 and 1, not 0.054
        ax.set_ylim(0, max(ax.get_ylim()[1], 1))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    handles = [handle for axes in (ax, *more) for handle in axes.get_legend_handles_labels()[0]]
    if handles:  # an empty legend is a warning, not a box
        ax.legend(handles=handles, loc="upper left", fontsize=8, ncols=min(len(handles), 4))


def _time_axis(ax: Axes, data: ChartData) -> None:
    ticks = time_ticks(data.since_s, data.until_s)
    ax.set_xticks([at for at, _ in ticks], [label for _, label in ticks])
    ax.set_xlim(data.since_s, data.until_s)
    ax.set_xlabel("time (UTC)")


def time_ticks(since_s: float, until_s: float, most: int = MAX_TICKS) -> list[tuple[float, str]]:
    """Ticks at round times (whole minutes, hours or days), at most `most` of them; the first tick and each
    midnight also carry the date. The x axis is plain epoch seconds, so this is done here rather than by
    matplotlib.dates, whose converters are untyped."""
    step = next((s for s in TICK_STEPS_S if (until_s - since_s) / s <= most), TICK_STEPS_S[-1])
    first = math.ceil(since_s / step) * step
    ticks: list[tuple[float, str]] = []
    for at in range(first, math.floor(until_s) + 1, step):
        moment = dt.datetime.fromtimestamp(at, dt.UTC)
        dated = not ticks or (moment.hour, moment.minute) == (0, 0)
        ticks.append((float(at), moment.strftime("%H:%M\n%b %d" if dated else "%H:%M")))
    return ticks


def _held(times: Sequence[float], values: Sequence[float], until: float) -> tuple[list[float], list[float]]:
    """A step series whose last value also holds until `until`: a value stands until the next one comes."""
    if not times:
        return [], []
    return [*times, until], [*values, values[-1]]


def _gaps(values: Sequence[float | None]) -> list[float]:
    """None (not logged) as NaN, which matplotlib leaves as a gap in the line."""
    return [math.nan if value is None else value for value in values]
