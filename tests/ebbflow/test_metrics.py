"""The head's Prometheus metrics, scraped over HTTP from a real store: depths per level and type, oldest waits,
dead letters and the dispatcher's outcomes; localhost by default; a taken port does not stop the head."""

from __future__ import annotations

import logging
import socket
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dispatcher.inflight import DispatchCounts
from dispatcher.markets import Market
from ebbflow.config import HeadSettings, Settings, SQLiteSettings
from ebbflow.metrics import HeadMetrics, serve_metrics
from ebbflow.stores import open_scheduler, open_store
from scheduler.config import SchedulerConfig


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_scrape_reads_the_queue_and_the_dispatch_counts(tmp_path: Path):
    settings = Settings(sqlite=SQLiteSettings(path=str(tmp_path / "queue.db")))
    scheduler = open_scheduler(settings)
    for _ in range(3):
        scheduler.submit("noop", None, tenant="a", job_class="new-signup")
    scheduler.submit("noop", None, tenant="b", job_class="batch")
    (leased,) = scheduler.lease(1, levels=[0])
    scheduler.fail(leased, "boom", retryable=False)  # one dead letter
    counts = DispatchCounts(leased=7, done=5, preempted=1, per_market=Counter({Market.SPOT: 4, Market.ON_DEMAND: 2}))
    counts.outages, counts.outage_reasons = 3, Counter({"busy": 2, "connection": 1})
    collector = HeadMetrics(lambda: open_store(settings), settings.scheduler, lambda: counts, clock=lambda: 4e9)
    server = serve_metrics(collector, "127.0.0.1", 0)
    assert server is not None
    try:
        samples = scrape(server.port)
    finally:
        server.close()
        scheduler.store.close()
    assert samples[("ebbflow_jobs_pending", (("level", "urgent"), ("type", "noop")))] == 2
    assert samples[("ebbflow_jobs_pending", (("level", "background"), ("type", "noop")))] == 1
    assert samples[("ebbflow_dead_letters", ())] == 1
    assert samples[("ebbflow_oldest_wait_seconds", (("level", "urgent"),))] > 0
    assert samples[("ebbflow_dispatch_outcomes_total", (("outcome", "done"),))] == 5
    assert samples[("ebbflow_dispatch_outcomes_total", (("outcome", "preempted"),))] == 1
    assert samples[("ebbflow_tasks_started_total", (("market", "spot"),))] == 4
    outages = {
        labels[0][1]: value for (name, labels), value in samples.items() if name == "ebbflow_store_outages_total"
    }
    none = ("oom", "loading", "readonly", "masterdown", "misconf", "noreplicas")  # listed at 0, so rate() works
    assert outages == {"connection": 1, "busy": 2} | dict.fromkeys(none, 0)


def test_metrics_listen_on_localhost_unless_told_otherwise():
    assert HeadSettings().metrics_host == "127.0.0.1"


def test_a_taken_port_is_logged_and_the_head_goes_on(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    settings = Settings(sqlite=SQLiteSettings(path=str(tmp_path / "queue.db")))
    collector = HeadMetrics(lambda: open_store(settings), settings.scheduler)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with caplog.at_level(logging.ERROR, logger="ebbflow.metrics"):
            assert serve_metrics(collector, "127.0.0.1", taken.getsockname()[1]) is None
    assert "set head.metrics_port to a free port" in caplog.text


def test_dead_letters_dropped_by_retention_are_a_counter_kept_in_the_store(tmp_path: Path):
    # given a retention of one dead letter, and two dead letters
    settings = Settings(
        sqlite=SQLiteSettings(path=str(tmp_path / "queue.db")), scheduler=SchedulerConfig(dead_letter_max_count=1)
    )
    scheduler = open_scheduler(settings)
    for _ in range(2):
        scheduler.submit("noop", None, tenant="a", job_class="new-signup")
        (leased,) = scheduler.lease(1, levels=[0])
        scheduler.fail(leased, "boom", retryable=False)
    # when maintenance drops the older one / then a scrape by another store object counts it
    assert scheduler.maintain().dead_dropped == 1
    collector = HeadMetrics(lambda: open_store(settings), settings.scheduler)
    server = serve_metrics(collector, "127.0.0.1", 0)
    assert server is not None
    try:
        samples = scrape(server.port)
    finally:
        server.close()
        scheduler.store.close()
    assert samples[("ebbflow_dead_letters", ())] == 1
    assert samples[("ebbflow_dead_letters_dropped_total", ())] == 1
