"""A local Ray cluster whose own autoscaler launches and removes nodes: tests of `RayFleet` on one machine.

`ray start --head` (the venv's `ray`) with the fake_multinode provider and autoscaler v2: the head's monitor
process starts each worker node as a real raylet on this machine when Ray's autoscaler decides to launch
one, and kills it when the autoscaler terminates it. Worker node types come from `autoscaler.fleet.NodeType`
and look like the project's real nodes (dispatcher/markets.py): `{market resource: slots, CPU: slots}`, the
label `market-type`, plus the node type's own resource (one unit) by which `RayFleet` asks for exactly that
type. `refuse(names)` takes capacity away from node types (their launches then fail as a cloud's do when it
has none: dispatcher/fake_provider.py), or gives it back. Every port is a free one (never Redis's 6379), the
temp dir is our own short one, and `shutdown()` kills only this cluster's processes, by pid (never `ray stop
--force`). The caller connects its own driver with `ray.init(address=cluster.address)`, and should
`ray.shutdown()` it before `shutdown()` (which does it if the caller forgot).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ray
import ray._private.services

from autoscaler.fleet import NodeType
from autoscaler.ray_fleet import node_type_resource
from dispatcher.cluster_base import (
    OBJECT_STORE_BYTES,
    REDIS_PORT,
    ClusterBase,
    disable_token_auth,
    free_port,
    process_table,
    send_signal,
    short_temp_dir,
    sigkill_all,
    this_process_and_ancestors,
    with_descendants,
)
from dispatcher.fake_provider import NO_CAPACITY_KEY
from dispatcher.markets import MARKET_LABEL, MARKET_RESOURCE

HEAD_NODE_ID = "f" * 51 + "00000"  # the fake provider's id for the head; v2 needs the head raylet to carry it
HEAD_TYPE = "ray.head.default"
_COMMANDS = ("initialization", "setup", "head_setup", "worker_setup", "head_start_ray", "worker_start_ray")
_EMPTY_KEYS: dict[str, Any] = {  # required by Ray's cluster config validator, even when empty
    **{f"{name}_commands": [] for name in _COMMANDS},
    **{"file_mounts": {}, "cluster_synced_files": [], "file_mounts_sync_continuously": False, "auth": {}},
}


class FakeAutoscalingCluster(ClusterBase):
    def __init__(
        self,
        node_types: Sequence[NodeType],
        *,
        head_cpus: int = 0,
        idle_timeout_minutes: float = 0.1,
        system_config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self._node_types = list(node_types)
        self._head_cpus = head_cpus
        self._idle_timeout_minutes = idle_timeout_minutes
        self._system_config = dict(system_config or {})

    def _running(self) -> bool:
        return self._temp_dir is not None

    def config(self, gcs_address: str) -> dict[str, Any]:
        """The autoscaling cluster config (what `ray up` would read), for a head at `gcs_address`."""
        # the head's CPU must match `ray start --num-cpus`; the fake provider takes object_store_memory out
        types: dict[str, Any] = {
            HEAD_TYPE: {"resources": {"CPU": self._head_cpus}, "node_config": {}, "max_workers": 0}
        }
        for node_type in self._node_types:
            resources = {MARKET_RESOURCE[node_type.market]: node_type.slots, node_type_resource(node_type): 1}
            types[node_type.name] = {
                "resources": {**resources, "CPU": node_type.slots, "object_store_memory": OBJECT_STORE_BYTES},
                "labels": {MARKET_LABEL: node_type.market.value},
                "node_config": {},
                "min_workers": 0,
                "max_workers": node_type.max_nodes,
            }
        return {
            "cluster_name": "ebbflow-fake",
            "max_workers": sum(node_type.max_nodes for node_type in self._node_types),
            "provider": {
                # = type fake_multinode, whose defaults file (fake_multi_node/example.yaml) the 2.60 wheel lacks
                "type": "external",
                "module": "dispatcher.fake_provider.MarketProvider",  # Ray's fake provider, plus `refuse`
                "gcs_address": gcs_address,  # without it the fake workers would join <ip>:6379
                "use_node_id_as_ip": True,
                "disable_node_updaters": True,
                "disable_launch_config_check": True,
                "launch_multiple": True,  # v2 launches several nodes per request
                "head_node_id": HEAD_NODE_ID,
                NO_CAPACITY_KEY: self._no_capacity_file(),
            },
            "head_node_type": HEAD_TYPE,
            "upscaling_speed": 1.0,
            "idle_timeout_minutes": self._idle_timeout_minutes,
            "available_node_types": types,
            **_EMPTY_KEYS,
        }

    def refuse(self, node_types: Iterable[str]) -> None:
        """From now on, launches of these node types fail for want of capacity (an empty list: none do)."""
        Path(self._no_capacity_file()).write_text("".join(f"{name}\n" for name in node_types))

    def _no_capacity_file(self) -> str:
        if self._temp_dir is None:
            raise RuntimeError("the cluster is not running")
        return str(Path(self._temp_dir, "no-capacity"))

    def start(self) -> str:
        """Start the head (and its autoscaler); returns the GCS address. Worker nodes come when asked for."""
        if self._running():
            raise RuntimeError("the cluster is already running")
        self._temp_dir = short_temp_dir("ebbfk-")
        port = free_port()
        while port == REDIS_PORT:  # pragma: no cover - the OS hands out ephemeral ports
            port = free_port()
        services: Any = ray._private.services  # untyped
        self._address = f"{services.get_node_ip_address()}:{port}"
        config_path = Path(self._temp_dir, "autoscale.yaml")
        config_path.write_text(json.dumps(self.config(self._address), indent=1))  # JSON is YAML
        env = {
            **os.environ,
            "RAY_enable_autoscaler_v2": "1",
            "RAY_CLOUD_INSTANCE_ID": HEAD_NODE_ID,
            "RAY_OVERRIDE_NODE_ID_FOR_TESTING": HEAD_NODE_ID,
            "RAY_FAKE_CLUSTER": "1",
            "AUTOSCALER_UPDATE_INTERVAL_S": "1",
        }
        disable_token_auth(env)  # for `ray start --head` and the processes it starts
        command = [
            str(Path(sys.executable).with_name("ray")), "start", "--head",
            f"--port={port}", f"--temp-dir={self._temp_dir}", f"--num-cpus={self._head_cpus}",
            f"--object-store-memory={OBJECT_STORE_BYTES}",
            f"--dashboard-port={free_port()}", f"--ray-client-server-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}", "--include-dashboard=false",
            f"--autoscaling-config={config_path}", "--disable-usage-stats",
        ]  # fmt: skip
        if self._system_config:
            command.append(f"--system-config={json.dumps(self._system_config)}")
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"ray start failed ({done.returncode}): {done.stderr[-3000:]}")
        except BaseException:
            self.shutdown()
            raise
        return self._address

    def pids(self) -> dict[int, int]:
        """Live (not zombie) processes of this cluster, pid -> start time: those naming its temp dir or GCS
        address and all their descendants (agents, task workers renamed `ray::IDLE`, and the worker raylets
        that the monitor starts)."""
        if self._temp_dir is None or self._address is None:
            return {}
        table = process_table()
        pids = with_descendants(self._named_processes(table), table) - this_process_and_ancestors(table)
        found = {pid: _started(pid) for pid in pids}
        return {pid: started for pid, started in found.items() if started is not None}

    def shutdown(self, grace_s: float = 2.0) -> None:
        """SIGTERM every process of the cluster, SIGKILL what is left after `grace_s`, check that nothing of it
        runs any more (RuntimeError otherwise), then remove the temp dir. Disconnects this process's driver
        if it is still connected to the cluster."""
        if self._temp_dir is None:
            return
        try:
            self._disconnect_driver()
            # A process found once stays ours (by pid and start time): a task worker whose raylet died is
            # reparented and names nothing of the cluster.
            known = self.pids()
            send_signal(known, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while (left := self._left(known)) and time.monotonic() < deadline:
                time.sleep(0.2)
            for _ in range(10):
                if not left:
                    break
                sigkill_all(left)  # SIGSTOP first, so that no raylet starts another process in between
                time.sleep(0.2)
                left = self._left(known)
            if left:
                raise RuntimeError(f"processes of the cluster at {self._address} survived SIGKILL: {sorted(left)}")
        finally:
            self._remove_temp_dir()

    def _left(self, known: dict[int, int]) -> dict[int, int]:
        known.update(self.pids())
        return {pid: started for pid, started in known.items() if _started(pid) == started}


def _started(pid: int) -> int | None:
    """The process's start time (clock ticks after boot), None if it is gone or a zombie (PID 1 here does not
    reap, so killed daemons stay zombies)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in (b"Z", b"X") else int(fields[19])
