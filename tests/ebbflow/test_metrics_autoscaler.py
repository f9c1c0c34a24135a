"""The autoscaler's families on the head's `/metrics`, scraped over HTTP: the fleet and slots of the last logged
decision, its timestamp, and decisions counted since the head started (a counter that never goes down)."""

from __future__ import annotations

from pathlib import Path

from ebbflow.config import Settings, SQLiteSettings
from ebbflow.metrics import HeadMetrics, serve_metrics
from ebbflow.stores import open_store
from tests.ebbflow.decision_entries import HOLD, history, write
from tests.ebbflow.test_metrics import scrape

STARTED = 1_800_000_000.0  # the head's clock when it made its metrics


def scrape_once(settings: Settings, log_path: Path | None) -> dict:
    collector = HeadMetrics(
        lambda: open_store(settings), settings.scheduler, clock=lambda: STARTED, decision_log_path=log_path
    )
    server = serve_metrics(collector, "127.0.0.1", 0)
    assert server is not None
    try:
        return scrape(server.port)
    finally:
        server.close()


def decisions_total(samples: dict) -> dict[str, float]:
    return {
        dict(labels)["kind"]: value
        for (name, labels), value in samples.items()
        if name == "ebbflow_autoscaler_decisions_total"
    }


def test_a_scrape_reads_the_fleet_and_slots_of_the_last_decision(tmp_path: Path):
    settings = Settings(sqlite=SQLiteSettings(path=str(tmp_path / "queue.db")))
    write(tmp_path / "decisions.jsonl", history(STARTED + 400))
    samples = scrape_once(settings, tmp_path / "decisions.jsonl")
    fleet = {labels: value for (name, labels), value in samples.items() if name == "ebbflow_fleet_nodes"}
    assert fleet == {
        (("node_type", "od"), ("state", "running")): 1,
        (("node_type", "spot-a"), ("state", "draining")): 1,
        (("node_type", "spot-a"), ("state", "running")): 2,
        (("node_type", "spot-b"), ("state", "launching")): 1,
    }
    for name, spot, ondemand in (("need_slots", 9.6, 2.0), ("have_slots", 8, 4), ("busy_slots", 5, 1)):
        assert samples[(f"ebbflow_autoscaler_{name}", (("market", "spot"),))] == spot
        assert samples[(f"ebbflow_autoscaler_{name}", (("market", "on-demand"),))] == ondemand
    assert samples[("ebbflow_autoscaler_last_decision_timestamp_seconds", ())] == STARTED + 370
    assert samples[("ebbflow_jobs_delayed", ())] == 0  # the queue's families are still there


def test_decisions_are_counted_once_each_and_only_since_the_head_started(tmp_path: Path):
    # given one decision logged before the head started
    settings = Settings(sqlite=SQLiteSettings(path=str(tmp_path / "queue.db")))
    log_path = tmp_path / "decisions.jsonl"
    entries = history(STARTED + 330)  # at STARTED + 0, 60, ..., 300: the first is before the start
    write(log_path, entries[:1])
    collector = HeadMetrics(
        lambda: open_store(settings), settings.scheduler, clock=lambda: STARTED, decision_log_path=log_path
    )
    server = serve_metrics(collector, "127.0.0.1", 0)
    assert server is not None
    try:
        first = decisions_total(scrape(server.port))
        # when five more are logged, and two scrapes follow
        write(log_path, entries[1:])
        second = decisions_total(scrape(server.port))
        third = decisions_total(scrape(server.port))
    finally:
        server.close()
    # then the pre-start one never counts, each later one counts once, under one kind
    assert first == {"launch": 0, "drain": 0, "hold": 0, "none": 0}
    assert second == {"launch": 1, "drain": 1, "hold": 1, "none": 2}
    assert third == second


def test_a_last_decision_that_saw_nothing_leaves_the_fleet_unknown(tmp_path: Path):
    settings = Settings(sqlite=SQLiteSettings(path=str(tmp_path / "queue.db")))
    write(tmp_path / "decisions.jsonl", [*history(STARTED), {"at": STARTED + 5, "acted": False, "hold": HOLD}])
    samples = scrape_once(settings, tmp_path / "decisions.jsonl")
    names = {name for name, _ in samples}
    assert "ebbflow_fleet_nodes" not in names and "ebbflow_autoscaler_busy_slots" not in names
    assert samples[("ebbflow_autoscaler_last_decision_timestamp_seconds", ())] == STARTED + 5
    assert decisions_total(samples)["hold"] == 1


def test_without_a_decision_log_there_are_no_autoscaler_families(tmp_path: Path):
    settings = Settings(sqlite=SQLiteSettings(path=str(tmp_path / "queue.db")))
    off = {name for name, _ in scrape_once(settings, None)}
    assert not any(name.startswith(("ebbflow_autoscaler_", "ebbflow_fleet_")) for name in off)
    # a log that does not exist yet: the counter is there at zero, nothing else
    empty = scrape_once(settings, tmp_path / "missing.jsonl")
    assert decisions_total(empty) == {"launch": 0, "drain": 0, "hold": 0, "none": 0}
    assert ("ebbflow_autoscaler_last_decision_timestamp_seconds", ()) not in empty
