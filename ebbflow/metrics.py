"""Prometheus metrics of the head (`/metrics`): queue depths and oldest waits per level, delayed and dead jobs,
the dispatcher's outcomes and tasks per market since the head started, and (given the autoscaler's decision
log) its fleet, slots and decisions (ebbflow.metrics_autoscaler); with several heads, whether this one leads
(`ebbflow_head_is_leader`, `ebbflow_head_leadership_changes_total`), and the fleet part only on the leader.

Preemptions are the dispatcher's `ebbflow_dispatch_outcomes_total{outcome="preempted"}`: jobs released because
their node went away. No separate preemption counter, as it would count the same events twice.
`ebbflow_store_outages_total{reason=...}` counts the store outages the dispatcher waited out, by kind.

The figures are read when Prometheus scrapes, not kept up to date in between: a scrape opens its own store
connection (the HTTP server answers on its own thread, and an SQLite connection belongs to the thread that made
it), reads the counts, and closes it. It binds to 127.0.0.1 unless `head.metrics_host` says otherwise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from threading import Thread
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dispatcher.inflight import DispatchCounts
from ebbflow.metrics_autoscaler import DecisionMetrics
from scheduler.config import SchedulerConfig
from scheduler.errors import STORE_OUTAGE_REASONS
from scheduler.store import JobStore

log = logging.getLogger(__name__)

OUTCOMES = ("leased", "done", "retried", "dead", "preempted", "timed_out", "deferred", "given_back", "lost")


class HeadMetrics(Collector):
    def __init__(
        self,
        open_store: Callable[[], JobStore],
        config: SchedulerConfig,
        counts: Callable[[], DispatchCounts] | None = None,
        clock: Callable[[], float] = time.time,
        decision_log_path: str | Path | None = None,
        leader: LeaderView | None = None,
    ) -> None:
        self._open_store = open_store
        self._leader = leader
        self._config = config
        self._counts = counts
        self._clock = clock
        self._decisions = None if decision_log_path is None else DecisionMetrics(decision_log_path, clock)

    def collect(self) -> Iterator[Metric]:
        store = self._open_store()
        try:
            stats = store.stats()
        finally:
            store.close()
        pending = GaugeMetricFamily("ebbflow_jobs_pending", "Jobs queued, per level and type", labels=["level", "type"])
        running = GaugeMetricFamily("ebbflow_jobs_running", "Jobs leased, per level and type", labels=["level", "type"])
        for (level, job_type), count in sorted(stats.pending.items()):
            pending.add_metric([self._level(level), job_type], count)
        for (level, job_type), count in sorted(stats.running.items()):
            running.add_metric([self._level(level), job_type], count)
        oldest = GaugeMetricFamily(
            "ebbflow_oldest_wait_seconds", "How long the oldest pending job of a level has waited", labels=["level"]
        )
        now_ms = self._clock() * 1000
        for level, enqueued_ms in sorted(stats.oldest_enqueued_ms.items()):
            oldest.add_metric([self._level(level)], max(0.0, (now_ms - enqueued_ms) / 1000))
        yield pending
        yield running
        yield oldest
        yield GaugeMetricFamily("ebbflow_jobs_delayed", "Jobs waiting out a retry backoff", value=stats.delayed)
        yield GaugeMetricFamily("ebbflow_dead_letters", "Jobs in the dead-letter queue", value=stats.dead)
        # kept in the store, so it counts every head's maintenance and survives a restart (docs/retention.md)
        yield CounterMetricFamily(
            "ebbflow_dead_letters_dropped",
            "Dead letters dropped by retention (past scheduler.dead_letter_max_age_s or _max_count)",
            value=stats.dead_dropped,
        )
        if self._counts is not None:
            yield from _dispatch(self._counts())
        if self._leader is not None:
            yield from _leadership(self._leader)
        # the fleet and its decisions are the leader's: a standby's decision log is stale (docs/heads.md)
        if self._decisions is not None and (self._leader is None or self._leader.is_leader):
            yield from self._decisions.collect()

    def _level(self, level: int) -> str:
        return self._config.level_name(level) if 0 <= level < len(self._config.levels) else f"level {level}"


class LeaderView(Protocol):
    """What the metrics read of the head's leadership (ebbflow.leadership.Leadership)."""

    @property
    def is_leader(self) -> bool: ...

    @property
    def changes(self) -> int: ...


def _leadership(leader: LeaderView) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "ebbflow_head_is_leader",
        "1 while this head holds the leader lease and runs the autoscaler, maintenance and cron",
        value=1 if leader.is_leader else 0,
    )
    yield CounterMetricFamily(
        "ebbflow_head_leadership_changes", "Times this head took or lost the leader lease", value=leader.changes
    )


def _dispatch(counts: DispatchCounts) -> Iterator[Metric]:
    outcomes = CounterMetricFamily(
        "ebbflow_dispatch_outcomes", "Leases and how their runs ended, since the head started", labels=["outcome"]
    )
    for outcome in OUTCOMES:
        outcomes.add_metric([outcome], getattr(counts, outcome))
    tasks = CounterMetricFamily("ebbflow_tasks_started", "Ray tasks started, per market", labels=["market"])
    for market, count in sorted(counts.per_market.items()):
        tasks.add_metric([market.value], count)
    outages = CounterMetricFamily(
        "ebbflow_store_outages",
        "Store outages the dispatcher waited out, since the head started, per reason (connection, or the Redis "
        "condition that refused commands: busy, oom, loading, readonly, masterdown, misconf, noreplicas)",
        labels=["reason"],
    )
    for reason in sorted({*STORE_OUTAGE_REASONS, *counts.outage_reasons}):
        outages.add_metric([reason], counts.outage_reasons[reason])
    yield outcomes
    yield tasks
    yield outages


@dataclass
class MetricsServer:
    server: WSGIServer
    thread: Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def serve_metrics(collector: Collector, host: str, port: int) -> MetricsServer | None:
    """`/metrics` on host:port (port 0: any free one) on a daemon thread; None, logged, when it cannot bind: the
    head runs on without its metrics rather than not at all."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as err:
        log.error("metrics: cannot listen on %s:%d (%s); set head.metrics_port to a free port", host, port, err)
        return None
    return MetricsServer(server, thread)
