"""The example configuration docs/configuration.md points to loads and says what the defaults say."""

from __future__ import annotations

import os
from pathlib import Path

from dispatcher.config import DispatcherConfig
from ebbflow.config import AutoscalerSettings, HeadSettings, RaySettings, load_settings
from scheduler.config import SchedulerConfig
from workloads.settings import PacksSettings

EXAMPLE = Path(__file__).resolve().parents[2] / "ebbflow.example.toml"


def test_example_config_loads_and_matches_the_defaults(monkeypatch) -> None:
    # given no EBBFLOW_* overrides / when the example file loads / then its scheduler section is the default one
    for name in [n for n in os.environ if n.startswith("EBBFLOW_")]:
        monkeypatch.delenv(name)
    settings = load_settings(EXAMPLE)
    assert settings.store == "sqlite"
    assert settings.scheduler == SchedulerConfig()
    assert settings.ray == RaySettings()
    assert settings.dispatcher == DispatcherConfig()
    assert settings.head == HeadSettings()
    assert settings.autoscaler == AutoscalerSettings()
    assert settings.packs == PacksSettings()
    assert [schedule.name for schedule in settings.cron] == ["heartbeat"]
