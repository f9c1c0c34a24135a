"""The queue-tracking chart: data from a real SQLite scheduler and a real decision log, the PNG and HTML it
writes, and `ebbflow chart` on the command line."""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest

from autoscaler.decide import Decision
from autoscaler.decision_log import DecisionLog, entry
from autoscaler.fleet import NodeType
from autoscaler.snapshot import Snapshot
from dispatcher.markets import Market
from ebbflow.chart import (
    DPI,
    EMPTY_NOTE,
    FIGURE_SIZE_IN,
    ChartData,
    chart_data,
    time_ticks,
    totals,
    write_chart,
    write_queue_chart,
)
from ebbflow.config import AutoscalerSettings, Settings
from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.clock import FakeClock
from scheduler.errors import ConfigError
from scheduler.queue import Scheduler
from scheduler.registry import JobTypeRegistry
from scheduler.sqlite_store import SQLiteStore
from tests.autoscaler.snapshots import node, snap, work

T0_MS = 1_800_000_000_000  # the start of a minute
T0 = T0_MS / 1000
SINCE, UNTIL = T0 - 60, T0 + 300  # seven minutes: the one before T0's, T0's, and five more
LEVELS = ("urgent", "daily", "weekly", "background")
SPOT = NodeType("spot-a", Market.SPOT, "m5.xlarge", "us-east-1a", 4, 1.0)
OD = NodeType("od", Market.ON_DEMAND, "m5.xlarge", "us-east-1a", 4, 1.2)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[Scheduler]:
    store = SQLiteStore(tmp_path / "queue.db", levels=len(LEVELS))
    yield Scheduler(store, registry=JobTypeRegistry(BUILTIN_TYPES), clock=FakeClock(T0_MS))
    store.close()


def run_jobs(scheduler: Scheduler, job_class: str, count: int) -> None:
    """Submit, lease and ack `count` noop jobs of a class, all in the clock's current minute."""
    scheduler.submit_many([scheduler.prepare("noop", tenant="acme", job_class=job_class) for _ in range(count)])
    leases = scheduler.lease(count)
    assert len(leases) == count and all(scheduler.ack(leases))


@pytest.fixture
def queue_history(scheduler: Scheduler) -> Scheduler:
    """3 urgent jobs finish in T0's minute, 2 background ones a minute later, 4 daily ones at T0 + 3 min; one
    weekly job is leased then and still runs (leased, not finished: no throughput)."""
    clock = scheduler.clock
    assert isinstance(clock, FakeClock)
    clock.advance(5)
    run_jobs(scheduler, "new-signup", 3)
    clock.advance(60)
    run_jobs(scheduler, "batch", 2)
    clock.advance(120)
    run_jobs(scheduler, "daily-active", 4)
    scheduler.submit("noop", tenant="acme", job_class="weekly-active")
    assert len(scheduler.lease(1)) == 1
    return scheduler


def snapshot_at(at: float, demand: dict[int, int], nodes: tuple[tuple[str, str, str], ...], price: float) -> Snapshot:
    return snap(
        at_s=at,
        inputs_at_s=at,
        node_types=(SPOT, OD),
        demand=tuple(work(level, pending, pending=pending) for level, pending in demand.items()),
        nodes=tuple(node(node_id, node_type, state) for node_id, node_type, state in nodes),
        spot_prices={"spot-a": price},
    )


def logged_decisions(path: Path) -> list[dict[str, Any]]:
    """A log as the autoscaler writes it: real entries, a hold, an old line, and one before the window."""
    od = ("od-1", "od", "running")
    spot = [("a1", "spot-a", "launching"), ("a2", "spot-a", "running"), ("a3", "spot-a", "draining")]
    lines = [
        {"at": T0 - 7200, "acted": False, "hold": None, "pending_by_level": {"0": 99}, "cost_per_hour": 50.0},
        entry(snapshot_at(T0 + 30, {0: 5, 3: 2}, (od,), 0.5), Decision(), acted=False),  # 1.2 $/h
        entry(snapshot_at(T0 + 90, {1: 4, 3: 8}, (od, *spot[:2]), 0.6), Decision(), acted=True),  # 2.4 $/h
        {"at": T0 + 150, "acted": False, "hold": "hold: inputs unavailable (OSError: queue down)"},
        entry(snapshot_at(T0 + 210, {}, (od, *spot), 0.8), Decision(), acted=False),  # 3.6 $/h
        # written before the chart's fields existed
        {"at": T0 + 270, "acted": False, "hold": None, "pending": 1, "spot_prices": {"spot-a": 0.7}},
    ]
    log = DecisionLog(path)
    for line in lines:
        log.append(line)
    return log.tail(100)


@pytest.fixture
def data(queue_history: Scheduler, tmp_path: Path) -> ChartData:
    decisions = logged_decisions(tmp_path / "decisions.jsonl")
    return chart_data(queue_history.store.history(round(SINCE * 1000)), decisions, LEVELS, SINCE, UNTIL)


def test_depth_nodes_cost_and_prices_are_what_was_logged(data: ChartData) -> None:
    # then only the decisions inside the window count, oldest first
    assert data.decision_s == (T0 + 30, T0 + 90, T0 + 150, T0 + 210, T0 + 270)
    # and a level not logged in an entry that has the field is 0; the hold and the old line are gaps
    assert data.depth == {
        "urgent": (5, 0, None, 0, None),
        "daily": (0, 4, None, 0, None),
        "weekly": (0, 0, None, 0, None),
        "background": (2, 8, None, 0, None),
    }
    assert data.nodes == {"spot": (0, 2, None, 3, None), "on-demand": (1, 1, None, 1, None)}
    assert data.cost_per_hour == pytest.approx((1.2, 2.4, None, 3.6, None))
    assert data.spot_prices == {"spot-a": (0.5, 0.6, None, 0.8, 0.7)}


def test_depth_equals_the_log_line_by_line(data: ChartData, tmp_path: Path) -> None:
    logged = [e for e in DecisionLog(tmp_path / "decisions.jsonl").tail(100) if SINCE <= e["at"] <= UNTIL]
    for index, name in enumerate(LEVELS):
        expected = [e["pending_by_level"].get(str(index), 0) if "pending_by_level" in e else None for e in logged]
        assert list(data.depth[name]) == expected


def test_throughput_per_minute_is_the_jobs_acked(data: ChartData) -> None:
    assert data.minute_s == tuple(float(T0 + 60 * k) for k in range(-1, 6))
    assert data.finished == {
        "urgent": (0, 3, 0, 0, 0, 0, 0),
        "daily": (0, 0, 0, 0, 4, 0, 0),
        "weekly": (0, 0, 0, 0, 0, 0, 0),
        "background": (0, 0, 2, 0, 0, 0, 0),
    }


def test_totals(data: ChartData) -> None:
    sums = totals(data)
    assert sums.finished == {"urgent": 3, "daily": 4, "weekly": 0, "background": 2}
    assert sums.peak_depth == {"urgent": 5, "daily": 4, "weekly": 0, "background": 8}
    assert sums.peak_nodes == {"spot": 3, "on-demand": 1}
    # each cost rate holds until the next decision; the hold and the old line add nothing
    assert sums.cost == pytest.approx((1.2 + 2.4 + 3.6) * 60 / 3600)


def test_a_png_of_the_expected_size(data: ChartData, tmp_path: Path) -> None:
    out = write_chart(data, tmp_path / "charts" / "queue.png", "queue")
    raw = out.read_bytes()
    assert raw[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", raw[16:24])  # the IHDR chunk comes first
    assert (width, height) == (round(FIGURE_SIZE_IN[0] * DPI), round(FIGURE_SIZE_IN[1] * DPI))
    pixels = matplotlib.image.imread(out)
    assert pixels.shape[:2] == (height, width) and pixels.std() > 0  # something was drawn


def test_an_html_page_with_the_svg_and_the_totals(data: ChartData, tmp_path: Path) -> None:
    page = write_chart(data, tmp_path / "queue.html", "queue <week>").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<?xml" not in page and "<script" not in page
    assert "<title>queue &lt;week&gt;</title>" in page
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert all(f">{name}<" in svg for name in LEVELS)  # the legend names levels, not indexes
    table = page[page.index('<table class="totals">') :]
    for row in (
        "<tr><td>urgent</td><td>3</td><td>5</td></tr>",
        "<tr><td>daily</td><td>4</td><td>4</td></tr>",
        "<tr><td>weekly</td><td>0</td><td>0</td></tr>",
        "<tr><td>background</td><td>2</td><td>8</td></tr>",
        '<tr><td>spot</td><td colspan="2">3</td></tr>',
        '<tr><td>on-demand</td><td colspan="2">1</td></tr>',
    ):
        assert row in table
    assert '<td colspan="2">$0.12</td>' in table


def test_write_queue_chart_reads_the_scheduler_and_the_configured_log(queue_history, tmp_path: Path) -> None:
    log_path = tmp_path / "log" / "autoscaler.jsonl"
    logged_decisions(log_path)
    settings = Settings(autoscaler=AutoscalerSettings(log_path=str(log_path)))
    out = write_queue_chart(settings, queue_history, SINCE, UNTIL, tmp_path / "q.html")
    page = out.read_text()
    assert "<tr><td>background</td><td>2</td><td>8</td></tr>" in page and "$0.12" in page


def test_an_empty_window_still_draws_and_says_so(queue_history, tmp_path: Path) -> None:
    # given a window a day before anything happened
    since, until = T0 - 86400, T0 - 82800
    data = chart_data(queue_history.store.history(round(since * 1000)), [], LEVELS, since, until)
    assert data.empty and data.decision_s == () and len(data.minute_s) == 61
    assert totals(data).cost is None and set(totals(data).peak_depth.values()) == {None}
    # then both kinds are written, and they say there was nothing
    assert write_chart(data, tmp_path / "empty.png", "nothing").read_bytes()[:8] == PNG_SIGNATURE
    page = write_chart(data, tmp_path / "empty.html", "nothing").read_text()
    assert EMPTY_NOTE in page and "<tr><td>urgent</td><td>0</td><td>-</td></tr>" in page
    assert '<td colspan="2">-</td></tr>\n</table>' in page  # no cost known


def test_entries_that_do_not_parse_are_skipped_or_gaps() -> None:
    decisions = [
        {"acted": False},  # no time
        {"at": "soon"},
        {"at": T0 + 1, "pending_by_level": "garbage", "nodes_by_market": {"spot": "two"}, "cost_per_hour": True},
        {"at": T0 + 2, "pending_by_level": {"6": 3}},  # a level the config no longer has
    ]
    data = chart_data([], decisions, LEVELS, SINCE, UNTIL)
    assert data.decision_s == (T0 + 1, T0 + 2)
    assert data.levels == (*LEVELS, "level 6") and data.depth["level 6"] == (None, 3)
    assert data.nodes == {"spot": (None, None), "on-demand": (0, None)}
    assert data.cost_per_hour == (None, None)


def test_a_bad_suffix_is_a_config_error_naming_the_option(tmp_path: Path) -> None:
    data = chart_data([], [], LEVELS, SINCE, UNTIL)
    with pytest.raises(ConfigError, match=r"^-o: '.*chart\.pdf' must end in \.png or \.html"):
        write_chart(data, tmp_path / "chart.pdf", "x")
    assert not (tmp_path / "chart.pdf").exists()


def test_ticks_fall_on_round_times_and_the_date_shows_at_midnight() -> None:
    ticks = time_ticks(T0 - 86400, T0)
    assert 2 <= len(ticks) <= 13 and all(at % 3600 == 0 for at, _ in ticks)
    assert "\n" in ticks[0][1] and [label for _, label in ticks].count("00:00\nJan 15") == 1


def test_cli_bad_suffix_is_one_error_line_and_exit_2(cli, workdir: Path) -> None:
    result = cli("chart", "-o", "queue.svg")
    assert result.exit_code == 2
    assert result.stderr == "error: -o: 'queue.svg' must end in .png or .html (a PNG image or an HTML page)\n"
    assert not (workdir / "queue.svg").exists()
    assert not (workdir / "queue.db").exists()  # refused before any store was opened


def test_cli_writes_the_chart_and_prints_its_path(cli, workdir: Path) -> None:
    # given two urgent jobs run through the CLI and a decision logged a minute ago
    for _ in range(2):
        cli.ok("submit", "noop", "--tenant", "acme", "--class", "new-signup")
    cli.ok("work", "--idle-exit")
    log = {"at": time.time() - 60, "acted": False, "hold": None, "pending_by_level": {"0": 2}}
    (workdir / ".ebbflow").mkdir()
    (workdir / ".ebbflow" / "autoscaler.jsonl").write_text(json.dumps(log) + "\n")
    # when the chart is asked for
    result = cli.ok("chart", "--hours", "1", "--output", "out/queue.html")
    # then it prints the path it wrote, and the page counts those jobs
    assert result.stdout.strip() == "out/queue.html"
    assert "<tr><td>urgent</td><td>2</td><td>2</td></tr>" in (workdir / "out" / "queue.html").read_text()
