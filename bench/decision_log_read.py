"""Reading the autoscaler's decision log: what `ebbflow status` (`recent_decisions(path, 50)`) and a `/metrics`
scrape cost on a log of 100,000 and of 1,000,000 decisions, read backwards from the end, beside the whole-file
read every reader did before (kept here as the peer: a deque over every line, as `DecisionLog.tail` was), in
the same run. Also: the same reads just after a rotation, when they span the current file and the previous one,
and what one append (with its lock and size check) costs.

    python bench/decision_log_read.py [--lines 100000 1000000] [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from autoscaler.decide import Decision
from autoscaler.decision_log import DecisionLog, entry
from autoscaler.fleet import FleetNode
from autoscaler.log_files import DEFAULT_MAX_BYTES
from autoscaler.snapshot import Demand, Snapshot
from dispatcher.markets import Market
from ebbflow.demo.fleet import DEMO_NODE_TYPES
from ebbflow.logged_decisions import LoggedDecision, parse, recent_decisions
from ebbflow.metrics_autoscaler import READ_ENTRIES, DecisionMetrics

console = Console(width=None if sys.stdout.isatty() else 120)
START = 1_800_000_000.0
PERIOD_S = 60.0  # the default autoscaler.period_s: one decision a minute
STATUS_COUNT = 50


def a_decision(at_s: float) -> dict[str, Any]:
    """One line as the autoscaler writes it, through its own entry(): four levels queued, a small fleet."""
    nodes = tuple(FleetNode(f"n{i}", DEMO_NODE_TYPES[i % len(DEMO_NODE_TYPES)].name, "running", 0.0) for i in range(6))
    demand = tuple(Demand(level, f"type-{level}", 100 * (level + 1), 250.0 * (level + 1)) for level in range(4))
    snapshot = Snapshot(at_s, at_s - 1, DEMO_NODE_TYPES, nodes, demand, {Market.SPOT: 8, Market.ON_DEMAND: 2})
    decision = Decision(
        launches={DEMO_NODE_TYPES[0].name: 1},
        reasons=("spot: 7.5 slots short; launch 1 x spot-m5xl-a", "deadlines, level 1: 3.0 slots of work"),
        need_slots={Market.SPOT: 11.5, Market.ON_DEMAND: 2.0},
        have_slots={Market.SPOT: 8, Market.ON_DEMAND: 2},
    )
    return entry(snapshot, decision, acted=True)


def write_log(path: Path, lines: int) -> int:
    """A log of `lines` decisions a minute apart in one file (never rotated: the log as it was), in bulk."""
    template = json.dumps(a_decision(START), default=str)
    head, _, tail = template.partition(f'"at": {START}')
    with path.open("w") as file:
        for i in range(lines):
            file.write(f'{head}"at": {START + i * PERIOD_S}{tail}\n')
    return path.stat().st_size


def whole_file_tail(path: Path, count: int) -> list[dict[str, Any]]:
    """The peer: what every reader did before, read every line and keep the last `count`."""
    with path.open() as file:
        lines = deque(file, maxlen=count)
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def old_scrape(path: Path) -> list[LoggedDecision]:
    return parse(whole_file_tail(path, READ_ENTRIES))


def new_scrape(path: Path, last_s: float) -> None:
    # a head that scrapes every 15 s has seen every decision but the last one or two
    metrics = DecisionMetrics(path, clock=lambda: last_s - 2 * PERIOD_S)
    list(metrics.collect())


def median_ms(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def compare(path: Path, last_s: float, runs: int) -> list[tuple[str, float, float]]:
    """(read, before ms, now ms) for `ebbflow status`, and for a scrape: its bound of the last READ_ENTRIES
    read from the end, then what a scrape now reads (back to the last decision it had seen)."""
    status_before = median_ms(lambda: parse(whole_file_tail(path, STATUS_COUNT)), runs)
    status_now = median_ms(lambda: recent_decisions(path, STATUS_COUNT), runs)
    scrape_before = median_ms(lambda: old_scrape(path), runs)
    bound_now = median_ms(lambda: parse(DecisionLog(path).tail(READ_ENTRIES)), runs)
    scrape_now = median_ms(lambda: new_scrape(path, last_s), runs)
    return [
        (f"status: last {STATUS_COUNT}", status_before, status_now),
        (f"last {READ_ENTRIES:,}, parsed", scrape_before, bound_now),
        ("/metrics scrape", scrape_before, scrape_now),
    ]


def rotated_log(folder: Path) -> Path:
    """A log just rotated: 10 decisions in the current file, the full 16 MiB one before them in .1."""
    path = folder / "rotated.jsonl"
    write_log(folder / "rotated.jsonl.1", DEFAULT_MAX_BYTES // len(json.dumps(a_decision(START), default=str)))
    log = DecisionLog(path)
    for i in range(10):
        log.append(a_decision(START + 1e9 + i * PERIOD_S))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    table = Table(title=f"decision log reads, median of {args.runs} runs (ms)")
    for column in ("log", "read", "whole file (before)", "from the end (now)", "ratio before / now"):
        table.add_column(column, justify="left" if column in ("log", "read") else "right")
    with tempfile.TemporaryDirectory() as folder:
        for lines in args.lines:
            path = Path(folder) / f"log-{lines}.jsonl"
            size = write_log(path, lines)
            last_s = START + (lines - 1) * PERIOD_S
            newest = recent_decisions(path, 2)
            assert not isinstance(newest, str) and [d.at for d in newest] == [last_s - PERIOD_S, last_s]
            label = f"{lines:,} lines, {size / 2**20:,.0f} MiB"
            for read, old_ms, new_ms in compare(path, last_s, args.runs):
                table.add_row(label, read, f"{old_ms:.2f}", f"{new_ms:.3f}", f"{old_ms / new_ms:,.0f}x")
        path = rotated_log(Path(folder))
        spanning = recent_decisions(path, STATUS_COUNT)
        assert not isinstance(spanning, str) and len(spanning) == STATUS_COUNT
        table.add_row(
            "just rotated: 10 + 16 MiB",
            f"status: last {STATUS_COUNT}",
            "",
            f"{median_ms(lambda: recent_decisions(path, STATUS_COUNT), args.runs):.3f}",
            "",
        )
        log = DecisionLog(Path(folder) / "append.jsonl")
        record = a_decision(START)
        table.add_row("append", "one decision", "", f"{median_ms(lambda: log.append(record), 200):.3f}", "")
    console.print(table)
    console.print(f"one decision line: {len(json.dumps(a_decision(START), default=str)) + 1:,} bytes")


if __name__ == "__main__":
    main()
