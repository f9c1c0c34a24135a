"""Packs become ordinary job types bound to the head's stores; secrets travel to workers but never print."""

from __future__ import annotations

import importlib.metadata
import pickle

import pytest
from pydantic import SecretStr
from ray import cloudpickle

from ebbflow.config import Settings
from ebbflow.job_types import load_registry
from ebbflow.stores import StoreSource
from scheduler.errors import ConfigError
from workloads.binding import PackRunner
from workloads.discovery import load_packs
from workloads.resources import ResourcesSource
from workloads.settings import FacebookSettings, PacksSettings, XSettings

SECRET = "planted-secret-7f3a"


def secret_settings() -> PacksSettings:
    return PacksSettings(
        index=SecretStr(f"mysql://root:{SECRET}@127.0.0.1:3306/test"),
        rankings=SecretStr("sqlite:///rel/rankings.db"),
        facebook=FacebookSettings(access_token=SecretStr(SECRET)),
        x=XSettings(bearer_token=SecretStr(SECRET)),
    )


def test_every_installed_pack_type_is_registered_and_bound():
    # when the registry is built with a resources source
    registry = load_registry((), ResourcesSource.from_settings(PacksSettings()))
    # then each pack's types are there, with runners bound to the source
    for pack in load_packs().values():
        for name in pack.type_names():
            assert isinstance(registry.get(name).run, PackRunner)
    assert registry.get("stale-videos.check").markets == "spot"


def test_without_a_source_no_pack_type_is_registered():
    assert "social-graph.fetch" not in load_registry(())


def test_a_bound_runner_survives_the_trip_to_a_worker():
    source = ResourcesSource.from_settings(secret_settings())
    runner = load_registry((), source).get("social-graph.fetch").run
    again = cloudpickle.loads(cloudpickle.dumps(runner))
    assert again == runner and again.source.settings() == source.settings()


def test_secrets_reach_the_worker_but_not_a_repr_or_log():
    source = ResourcesSource.from_settings(secret_settings())
    settings = source.settings()
    assert settings.facebook.access_token is not None and settings.facebook.access_token.get_secret_value() == SECRET
    assert SECRET in settings.index.get_secret_value()
    for text in (
        repr(source),
        repr(settings),
        str(settings),
        repr(StoreSource.from_settings(Settings(packs=secret_settings()))),
    ):
        assert SECRET not in text


def test_relative_sqlite_paths_are_made_absolute_for_workers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = ResourcesSource.from_settings(secret_settings()).settings()
    assert settings.rankings.get_secret_value() == f"sqlite:///{tmp_path}/rel/rankings.db"
    assert pickle.loads(pickle.dumps(settings)) == settings


class FakeEntryPoint:
    def __init__(self, name: str, value: object) -> None:
        self.name, self.value, self._value = name, f"fake:{name}", value

    def load(self) -> object:
        if isinstance(self._value, Exception):
            raise self._value
        return self._value


@pytest.mark.parametrize(
    ("loaded", "message"),
    [
        (ImportError("no module named nowhere"), "cannot load: no module named nowhere"),
        ("a string", "is not a workloads.Pack"),
    ],
)
def test_a_broken_pack_entry_point_is_named(monkeypatch, loaded, message):
    def fake_entry_points(group: str) -> list[FakeEntryPoint]:
        assert group == "ebbflow.packs"
        return [FakeEntryPoint("broken", loaded)]

    monkeypatch.setattr("workloads.discovery.entry_points", fake_entry_points)
    with pytest.raises(ConfigError, match=f"pack entry point 'broken' .*{message}"):
        load_packs()


def test_the_packs_are_declared_as_entry_points():
    names = {entry_point.name for entry_point in importlib.metadata.entry_points(group="ebbflow.packs")}
    assert {"social-graph", "stale-videos"} <= names
