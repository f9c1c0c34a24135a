"""Fixtures for the CLI tests: an isolated working directory and environment, and a `cli` runner.

Every test runs in its own tmp_path with no EBBFLOW_* variables from the outside, so a developer's own
ebbflow.toml or EBBFLOW_STORE never leaks in; the SQLite store lives in tmp_path.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ebbflow import load_settings, open_store
from ebbflow.cli import main
from scheduler.redis_store import RedisStore
from scheduler.store import JobStore
from tests.stores import redis_client


@dataclass
class Cli:
    """Runs `ebbflow ARGS` in-process; `ok` also asserts that it succeeded."""

    runner: CliRunner

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(main, list(args), catch_exceptions=False)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, f"ebbflow {' '.join(args)} exited {result.exit_code}: {result.output}"
        return result


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.upper().startswith("EBBFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EBBFLOW_SQLITE__PATH", str(tmp_path / "queue.db"))
    return tmp_path


@pytest.fixture
def cli(workdir: Path) -> Cli:
    return Cli(CliRunner())


@pytest.fixture
def redis_env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the CLI at the real Redis under a fresh namespace; purge it afterwards."""
    redis_client().close()  # fails the test with how to start Redis when it is not running
    namespace = f"t-{uuid.uuid4().hex}"
    monkeypatch.setenv("EBBFLOW_STORE", "redis")
    monkeypatch.setenv("EBBFLOW_REDIS__NAMESPACE", namespace)
    yield namespace
    store = RedisStore("redis://127.0.0.1:6379/0", levels=4, namespace=namespace)
    try:
        store.purge()
    finally:
        store.close()


@pytest.fixture
def configured_store(workdir: Path) -> Iterator[Callable[[], JobStore]]:
    """open() -> the store the current settings pick (as the CLI would open it); closed at teardown."""
    opened: list[JobStore] = []

    def open_configured() -> JobStore:
        opened.append(open_store(load_settings()))
        return opened[-1]

    yield open_configured
    for store in opened:
        store.close()


def pending_total(store: JobStore) -> int:
    return sum(store.stats().pending.values())
