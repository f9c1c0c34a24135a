"""What the pack benchmarks share: the emulator in a child process (so its CPU is not this process's), and
settings that point ebbflow's stores into a scratch folder and its sources at the emulator."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from pydantic import SecretStr

from bench.private_redis import free_port
from ebbflow.config import Settings, SQLiteSettings
from workloads.settings import PacksSettings
from workloads.world import WorldConfig

START_TIMEOUT_S = 30.0


def _serve(config: WorldConfig, port: int) -> None:
    from workloads.emulator.server import serve

    serve(config, host="127.0.0.1", port=port, print_fn=lambda *_: None)


@contextlib.contextmanager
def emulator_process(config: WorldConfig) -> Iterator[str]:
    """The emulator's base URL, served by a child process that is stopped on exit."""
    port = free_port()
    child = multiprocessing.get_context("spawn").Process(target=_serve, args=(config, port), daemon=True)
    child.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, child)
        yield url
    finally:
        child.terminate()
        child.join(10)
        if child.is_alive():
            child.kill()
            child.join()


def _wait_healthy(url: str, child: multiprocessing.process.BaseProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not child.is_alive():
            raise RuntimeError(f"the emulator exited with code {child.exitcode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the emulator did not answer {url}/healthz within {START_TIMEOUT_S:.0f} s")


def scratch_settings(folder: Path, emulator_url: str, index_url: str | None = None) -> Settings:
    """SQLite queue and stores in `folder` (or `index_url` for the index), sources at the emulator."""
    packs = PacksSettings(
        index=SecretStr(index_url or f"sqlite:///{folder / 'index.db'}"),
        rankings=SecretStr(f"sqlite:///{folder / 'rankings.db'}"),
        emulator=emulator_url,
    )
    return Settings(sqlite=SQLiteSettings(path=str(folder / "queue.db")), packs=packs)
