"""The autoscaler the head and `ebbflow autoscaler plan --act` build writes its decision log with the rotation
its settings give."""

from __future__ import annotations

from pathlib import Path

from autoscaler.decision_log import DecisionLog
from dispatcher.markets import Market
from ebbflow.autoscaling import make_autoscaler
from ebbflow.config import AutoscalerSettings, Settings, SQLiteSettings
from ebbflow.stores import open_scheduler
from tests.autoscaler.fake_fleet import FakeFleet
from tests.autoscaler.snapshots import PRICES, TYPES


def test_the_autoscaler_rotates_its_log_at_the_configured_size(tmp_path: Path) -> None:
    # given a log already at the configured 64 KiB, written by an earlier head
    path = tmp_path / "autoscaler.jsonl"
    line = b'{"at": 1.0, "acted": false, "hold": null, "pad": "' + b"x" * 50 + b'"}\n'
    path.write_bytes(line * (65536 // len(line)))
    scaling = AutoscalerSettings(log_path=str(path), log_max_bytes=65536, log_backups=2, node_types=TYPES)
    settings = Settings(sqlite=SQLiteSettings(path=str(tmp_path / "queue.db")), autoscaler=scaling)
    scheduler = open_scheduler(settings)
    try:
        scaler = make_autoscaler(settings, scheduler, FakeFleet(TYPES, PRICES), lambda: {Market.SPOT: 0})
        # when it logs two decisions
        scaler.tick()
        scaler.tick()
    finally:
        scheduler.store.close()
    # then the full file was rotated before the first, and both are in the new one, read back after the old
    assert sorted(p.name for p in tmp_path.glob("autoscaler.jsonl*")) == [
        "autoscaler.jsonl", "autoscaler.jsonl.1", "autoscaler.jsonl.lock"
    ]  # fmt: skip
    assert len(path.read_text().splitlines()) == 2
    assert [r["at"] > 1.0 for r in DecisionLog(path).tail(3)] == [False, True, True]
