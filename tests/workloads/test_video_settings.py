"""[packs.videos] api_base_url and api_key: validated, carried to workers, used by Resources.videos, never printed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from ebbflow.config import load_settings
from workloads.emulator import EmulatorServer
from workloads.resources import Resources, ResourcesSource
from workloads.settings import PacksSettings, VideoSettings
from workloads.sources import AccessDeniedError

SECRET = "planted-video-key-5c6d"
EXAMPLE = Path(__file__).resolve().parents[2] / "ebbflow.example.toml"


def test_defaults_point_at_the_data_api_without_a_key() -> None:
    videos = VideoSettings()
    assert (videos.api_base_url, videos.api_key) == ("https://www.googleapis.com", None)
    assert VideoSettings(api_base_url="http://127.0.0.1:8780/").api_base_url == "http://127.0.0.1:8780"


def test_a_bad_api_base_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="api_base_url"):
        VideoSettings(api_base_url="www.googleapis.com")


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("EBBFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("EBBFLOW_PACKS__VIDEOS__API_KEY", SECRET)
    videos = load_settings(EXAMPLE).packs.videos
    assert videos.api_key is not None and videos.api_key.get_secret_value() == SECRET
    assert SECRET not in repr(videos) and SECRET not in str(videos)


def test_the_key_reaches_workers_but_no_repr() -> None:
    settings = PacksSettings(videos=VideoSettings(api_key=SecretStr(SECRET)))
    source = ResourcesSource.from_settings(settings)
    again = source.settings()
    assert again.videos.api_key is not None and again.videos.api_key.get_secret_value() == SECRET
    for text in (repr(source), repr(again), str(again), repr(Resources(again).videos)):
        assert SECRET not in text


def test_against_the_emulator_search_goes_there_with_a_stand_in_key(live_emulator: EmulatorServer) -> None:
    resources = Resources(PacksSettings(emulator=live_emulator.base_url))
    try:
        assert resources.videos.search("zephyr", max_results=3)
    finally:
        resources.close()


def test_a_configured_api_host_and_key_are_used(live_emulator: EmulatorServer) -> None:
    # given the emulator as the Data API host (and no emulator setting, so no stand-in key)
    videos = VideoSettings(api_base_url=live_emulator.base_url, api_key=SecretStr(SECRET))
    with_key = Resources(PacksSettings(videos=videos))
    without_key = Resources(PacksSettings(videos=VideoSettings(api_base_url=live_emulator.base_url)))
    try:
        assert with_key.videos.search("zephyr", max_results=3)
        with pytest.raises(AccessDeniedError) as caught:
            without_key.videos.search("zephyr")
        assert SECRET not in str(caught.value)
    finally:
        with_key.close()
        without_key.close()
