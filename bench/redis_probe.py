"""What a benchmark phase cost the Redis server: commands (script-internal ones included), CPU and memory."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

IGNORED = {"info", "config|resetstat", "ping", "hello", "client|setinfo", "script|load", "select"}


@dataclass(frozen=True)
class RedisCost:
    commands: int  # every command Redis executed, those run inside Lua scripts included
    scripts: int  # EVAL/EVALSHA calls: for a store that only calls scripts, its round trips
    cpu_s: float  # server user + system CPU

    def commands_per_job(self, jobs: int) -> float:
        return self.commands / jobs

    def cpu_us_per_job(self, jobs: int) -> float:
        return self.cpu_s / jobs * 1e6


class RedisProbe:
    """Deltas of INFO commandstats and INFO cpu around a phase.

    Redis counts a command issued from a script like one sent by a client (INFO stats'
    total_commands_processed too), so `commands` is the server's whole work in commands.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def _snapshot(self) -> tuple[dict[str, int], float]:
        stats: dict[str, Any] = self.client.info("commandstats")
        calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
        cpu: dict[str, Any] = self.client.info("cpu")
        return calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self) -> RedisCost:
        (before, cpu0), (after, cpu1) = self._before, self._snapshot()
        delta = {k: v - before.get(k, 0) for k, v in after.items() if k not in IGNORED}
        scripts = delta.get("evalsha", 0) + delta.get("eval", 0)
        return RedisCost(commands=sum(delta.values()), scripts=scripts, cpu_s=cpu1 - cpu0)

    def used_memory(self) -> int:
        """used_memory once Redis has finished freeing what UNLINK handed to its background thread."""
        for _ in range(200):
            mem: dict[str, Any] = self.client.info("memory")
            if int(mem.get("lazyfree_pending_objects", 0)) == 0:
                break
            time.sleep(0.05)
        return int(mem["used_memory"])
