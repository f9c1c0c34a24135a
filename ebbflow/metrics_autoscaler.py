"""The autoscaler's metric families on the head's `/metrics`, read from its decision log at scrape time.

The fleet and slot gauges are the figures of the last decision, and absent when that decision could not
observe them (a hold for unreadable inputs): unknown, not zero. The last decision's timestamp tells how old
they are; alert on `time() - ebbflow_autoscaler_last_decision_timestamp_seconds`.

`ebbflow_autoscaler_decisions_total{kind}` is a true counter: decisions logged since the head started (it
counts what a scrape finds newer than the newest entry it had seen), so `increase()` and `rate()` work, and a
head restart is a counter reset as Prometheus expects. A count over the log's last N lines would not be one:
it goes down as old lines leave the window. Decisions are counted from the log rather than taken from the
autoscaler because the log is what holds every decision, whichever process made it. A scrape reads the log
backwards only as far as the last decision it had seen (log_files.py rotates the log, reverse_lines.py reads
it from the end), and at most the last `READ_ENTRIES` lines, so more decisions than that between two scrapes
(over 16 hours at the default period) would be undercounted.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from threading import Lock

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ebbflow.logged_decisions import KINDS, Kind, LoggedDecision, decisions_after

log = logging.getLogger(__name__)

READ_ENTRIES = 1000


class DecisionMetrics:
    def __init__(self, log_path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self._path = log_path
        self._seen_s = clock()  # decisions logged before the head started are not counted
        self._counts: Counter[Kind] = Counter()
        self._lock = Lock()  # scrapes are served on threads of their own and may overlap

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            seen_s = self._seen_s
        decisions = decisions_after(self._path, seen_s, READ_ENTRIES)
        if isinstance(decisions, str):
            log.warning("metrics: cannot read the autoscaler's decision log: %s", decisions)
            decisions = []
        yield self._decisions_total(decisions)
        if decisions:
            yield from _last_decision(decisions[-1])

    def _decisions_total(self, decisions: Sequence[LoggedDecision]) -> Metric:
        with self._lock:
            new = [d for d in decisions if d.at > self._seen_s]
            self._counts.update(d.kind for d in new)
            self._seen_s = max([self._seen_s, *(d.at for d in new)])
            counts = dict(self._counts)
        total = CounterMetricFamily(
            "ebbflow_autoscaler_decisions",
            "Autoscaler decisions logged since the head started, by kind (a replacement is a launch)",
            labels=["kind"],
        )
        for kind in KINDS:
            total.add_metric([kind], counts.get(kind, 0))
        return total


def _last_decision(last: LoggedDecision) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "ebbflow_autoscaler_last_decision_timestamp_seconds",
        "When the autoscaler logged its last decision (epoch seconds)",
        value=last.at,
    )
    if last.nodes is None:
        return
    nodes = GaugeMetricFamily(
        "ebbflow_fleet_nodes",
        "Nodes per node type and state, as the last decision saw them",
        labels=["node_type", "state"],
    )
    for (node_type, state), count in sorted(last.node_counts().items()):
        nodes.add_metric([node_type, state], count)
    yield nodes
    for name, figures, help_text in (
        ("need_slots", last.need_slots, "Job slots the last decision asked for, per market"),
        ("have_slots", last.have_slots, "Job slots there or launching at the last decision, per market"),
        ("busy_slots", last.busy_slots, "Job slots running jobs at the last decision, per market"),
    ):
        family = GaugeMetricFamily(f"ebbflow_autoscaler_{name}", help_text, labels=["market"])
        for market, value in sorted(figures.items()):
            family.add_metric([market], value)
        yield family
