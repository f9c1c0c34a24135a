"""Fixtures for the pack tests: the CLI fixtures (an isolated working directory, `cli`, `configured_store`),
an emulator on the real clock, and `pack_env`, which points the CLI's packs at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.ebbflow.conftest import cli, configured_store, workdir
from workloads.emulator import EmulatorServer, RateLimits
from workloads.resources import close_all
from workloads.world import WorldConfig

__all__ = ["cli", "configured_store", "workdir"]


@pytest.fixture(autouse=True)
def _close_job_resources() -> Iterator[None]:
    """Whatever a test's jobs opened in this process (stores, the URL checker's thread) is closed after it."""
    yield
    close_all()


@pytest.fixture(scope="session")
def live_emulator() -> Iterator[EmulatorServer]:
    """An emulator on the real clock (the packs' jobs read the wall clock too), stopped after the session."""
    with EmulatorServer(WorldConfig()) as server:
        yield server


@pytest.fixture
def pack_env(workdir: Path, live_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's settings point the packs at the emulator and at SQLite stores in the test's folder."""
    monkeypatch.setenv("EBBFLOW_PACKS__EMULATOR", live_emulator.base_url)
    monkeypatch.setenv("EBBFLOW_PACKS__INDEX", f"sqlite:///{workdir / 'index.db'}")
    monkeypatch.setenv("EBBFLOW_PACKS__RANKINGS", f"sqlite:///{workdir / 'rankings.db'}")
    return workdir


@pytest.fixture
def start_emulator_with_limits() -> Iterator[Callable[[RateLimits], EmulatorServer]]:
    started: list[EmulatorServer] = []

    def start(limits: RateLimits) -> EmulatorServer:
        started.append(EmulatorServer(WorldConfig(), limits).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()
