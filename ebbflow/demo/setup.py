"""What the demo stands on: its own settings and folder, the emulator process, and a catalogue of known videos."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from autoscaler.config import GuardConfig
from dispatcher.local_cluster import free_port
from ebbflow.config import Settings
from ebbflow.demo.fleet import DEMO_NODE_TYPES
from scheduler.config import LevelConfig, SchedulerConfig
from scheduler.errors import ConfigError
from workloads.index.base import VideoIndex, VideoRecord
from workloads.sources.urls import watch_url
from workloads.world import World

DAY_MS = 86_400_000
MARKER = ".ebbflow-demo"  # in a folder the demo made, and so may empty
EMULATOR_START_S = 30.0
# The demo's levels: the defaults with allotments sized to minutes (the defaults are sized to a 10-minute
# window of a real day), so a tenant that floods a level is demoted within the demo's run.
DEMO_LEVELS = (
    LevelConfig(name="urgent", allotment_s=20),
    LevelConfig(name="daily", max_wait_s=90, allotment_s=15),
    LevelConfig(name="weekly", max_wait_s=180, allotment_s=15),
    LevelConfig(name="background", max_wait_s=600),
)


def prepare_workdir(workdir: Path) -> Path:
    """An empty folder for this run (the chart and summary describe this run only). Only a folder an earlier
    demo made (it holds MARKER) is emptied: `--workdir ~` must never cost anyone their home directory."""
    workdir = workdir.resolve()
    if workdir.exists() and not workdir.is_dir():
        raise ConfigError(f"--workdir: {workdir} is a file; give a folder (new, empty, or an earlier demo's)")
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise ConfigError(
                f"--workdir: {workdir} is not empty and no earlier demo made it; give a new or empty folder"
            )
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("made by `ebbflow demo`; the next demo with this --workdir empties it\n")
    return workdir


def demo_settings(workdir: Path, emulator_url: str) -> Settings:
    """Every store in `workdir` (SQLite), every source at the emulator, and the head's loops at demo speed:
    decisions every 2 s rather than every minute, fake nodes that start in seconds rather than minutes."""
    return Settings.model_validate(
        {
            "store": "sqlite",
            "sqlite": {"path": str(workdir / "queue.db")},
            "scheduler": SchedulerConfig(levels=DEMO_LEVELS, demotion_window_s=60, lease_ttl_s=15),
            "cron": [{"name": "heartbeat", "cron": "* * * * *", "type": "noop", "class": "batch"}],
            "head": {"maintain_every_s": 1.0, "cron_every_s": 2.0, "metrics": False},
            "autoscaler": {
                "enabled": True,
                "fleet": "ray",
                "period_s": 2.0,
                "horizons_s": (10.0, 30.0, 60.0, 120.0),
                "min_horizon_s": 5.0,
                "startup_lag_s": 8.0,
                "scheduled_horizon_s": 30.0,
                "min_ondemand_nodes": 1,
                "node_types": DEMO_NODE_TYPES,
                "log_path": str(workdir / "autoscaler.jsonl"),
                "guard": GuardConfig(
                    max_nodes=len(DEMO_NODE_TYPES) + 1,
                    budget_per_hour=2.0,
                    scale_up_cooldown_s=5.0,
                    scale_down_cooldown_s=20.0,
                    stale_after_s=30.0,
                ),
            },
            "packs": {
                "index": f"sqlite:///{workdir / 'index.db'}",
                "rankings": f"sqlite:///{workdir / 'rankings.db'}",
                "archive": str(workdir / "archive"),
                "emulator": emulator_url,
            },
        }
    )


@dataclass
class Emulator:
    """`ebbflow emulate` in its own process: the synthetic world's APIs, off the head's core."""

    process: subprocess.Popen[bytes]
    url: str

    @classmethod
    def start(cls, log_path: Path) -> Emulator:
        port = free_port()
        command = [str(Path(sys.executable).with_name("ebbflow")), "emulate", "--port", str(port)]
        with log_path.open("wb") as log:
            # its own session: a Ctrl-C meant for the demo must not kill the world under the jobs still draining
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        emulator = cls(process, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + EMULATOR_START_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ConfigError(f"the emulator exited ({process.returncode}); its output is in {log_path}")
            try:
                httpx.get(emulator.url, timeout=1.0)
                return emulator
            except httpx.TransportError:
                time.sleep(0.2)
        emulator.stop()
        raise ConfigError(f"the emulator did not answer within {EMULATOR_START_S:.0f} s; see {log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def seed_catalogue(index: VideoIndex, world: World, count: int, now_ms: int, first: int) -> int:
    """Videos the service already knew before today (seen weeks ago, never re-checked): the stale sweep's work.
    Some are dead in the world, so the sweep finds real stale links."""
    records = [
        VideoRecord(video_id, watch_url("https://www.youtube.com", video_id), seen_ms=now_ms - 30 * DAY_MS)
        for video_id in (world.video_id(first + i) for i in range(count))
    ]
    return index.upsert_videos(records)
