"""The fault suite's heads: `count` `ebbflow head` processes on one Ray cluster and one queue, each with its own
/metrics port and its own decision log; every head after the first runs on a wall clock `skew_s` ahead
(bench/skewed_clock.py), as a second host without NTP would. Which one leads is read from their /metrics."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.fault_harness import EBBFLOW
from bench.private_redis import free_port

SCRAPE_TIMEOUT_S = 2.0


@dataclass
class SuiteHeads:
    count: int
    skew_s: float
    ray_address: str
    folder: Path
    autoscaler_json: str  # EBBFLOW_AUTOSCALER of the suite: each head gets it with a log of its own
    ports: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ports = [free_port() for _ in range(self.count)]

    def command(self, n: int) -> list[str]:
        head = ["head", "--ray-address", self.ray_address]
        if n == 0 or not self.skew_s:
            return [EBBFLOW, *head]
        return [sys.executable, "-m", "bench.skewed_clock", f"{self.skew_s:g}", "--", *head]

    def env(self, n: int) -> dict[str, str]:
        scaling = json.loads(self.autoscaler_json) | {"log_path": str(self.log_path(n))}
        return {"EBBFLOW_HEAD__METRICS_PORT": str(self.ports[n]), "EBBFLOW_AUTOSCALER": json.dumps(scaling)}

    def log_path(self, n: int) -> Path:
        return self.folder / f"autoscaler-head-{n}.jsonl"

    def describe(self, n: int) -> str:
        return f"head {n}" + (f" (clock {self.skew_s:+g} s)" if n and self.skew_s else "")

    def leaders(self) -> list[int]:
        """The heads whose /metrics say `ebbflow_head_is_leader 1` now (one that does not answer: not)."""
        return [n for n, port in enumerate(self.ports) if _is_leader(port)]


def _is_leader(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=SCRAPE_TIMEOUT_S) as response:
            text = response.read().decode()
    except (OSError, urllib.error.URLError):  # not up yet, killed, or too slow to answer: not leading for us
        return False
    for line in text.splitlines():
        if line.startswith(("ebbflow_head_is_leader ", "ebbflow_head_is_leader{")):
            return float(line.rsplit(" ", 1)[1]) == 1
    return False
