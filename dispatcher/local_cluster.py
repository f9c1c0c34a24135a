"""A multi-node Ray cluster on one machine, for tests, benchmarks and the demo.

Each node is a real raylet (with its own object store, agents and task workers) started by
`ray.cluster_utils.Cluster`; worker nodes carry their market like nodes of a real cluster do (see
dispatcher/markets.py). `kill_node` makes a node vanish the way a reclaimed spot VM does: every process of
the node gets SIGKILL at the same moment, with no drain and no warning. The caller connects its own driver
with `ray.init(address=cluster.address)`, and must `ray.shutdown()` before `shutdown()` (which does it if
the caller forgot).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import ray
import ray._private.services
import ray.experimental.internal_kv
from ray._common.utils import get_ray_address_file
from ray.cluster_utils import Cluster

from dispatcher.cluster_base import (
    OBJECT_STORE_BYTES,
    REDIS_PORT,
    ClusterBase,
    disable_token_auth,
    free_port,
    process_table,
    short_temp_dir,
    sigkill_all,
    this_process_and_ancestors,
    with_descendants,
)
from dispatcher.markets import MARKET_LABEL, MARKET_RESOURCE, Market

# free_port and sigkill_all live in dispatcher.cluster_base; callers still import them from here
__all__ = [
    "FAST_FAILURE_DETECTION",
    "OBJECT_STORE_BYTES",
    "REDIS_PORT",
    "LocalCluster",
    "NodeInfo",
    "NodeSpec",
    "free_port",
    "node_pids",
    "sigkill_all",
]

# GCS declares a node dead after 3 failed health checks 1 s apart: 2.1-2.9 s after a SIGKILL on a 2-core machine,
# where Ray's defaults took 12-15 s. Without the shorter initial delay (default 5 s), a node killed within ~5 s
# of joining was declared dead only 5-7 s later.
FAST_FAILURE_DETECTION = {
    "health_check_initial_delay_ms": 1000,
    "health_check_period_ms": 1000,
    "health_check_failure_threshold": 3,
}


@dataclass(frozen=True)
class NodeSpec:
    market: Market
    slots: int
    cpus: int | None = None  # defaults to slots


@dataclass(frozen=True)
class NodeInfo:
    node_id: str
    market: Market
    slots: int


def node_pids(raylet_socket_name: str) -> set[int]:
    """The raylet listening on this socket (Ray's `RayletSocketName`) and all its descendants: the dashboard
    and runtime-env agents and the task/actor workers. Task workers rename themselves (`ray::IDLE`), so they
    are found as the raylet's children, never by their command line."""
    table = process_table()
    roots = [pid for pid, (_, argv) in table.items() if f"--raylet_socket_name={raylet_socket_name}" in argv]
    return with_descendants(roots, table)


@contextlib.contextmanager
def _drivers_kv_kept() -> Iterator[None]:
    """Starting a node points this process's internal KV client (which a driver uses, e.g. on its first call
    of a remote function) at that node's GCS. Put the driver's back: a driver connected to another cluster
    would otherwise hang on a cluster that is gone, and Ray's GCS client aborts the process after 60 s."""
    kv: Any = ray.experimental.internal_kv
    saved = kv.global_gcs_client, kv._initialized
    try:
        yield
    finally:
        kv.global_gcs_client, kv._initialized = saved


class LocalCluster(ClusterBase):
    """A head node (no market resource, `head_cpus` CPUs) plus one worker node per NodeSpec."""

    def __init__(
        self,
        nodes: Sequence[NodeSpec],
        *,
        port: int | None = None,
        head_cpus: int = 0,
        fast_failure_detection: bool = True,
    ) -> None:
        if port == REDIS_PORT:
            raise ValueError(f"port {REDIS_PORT} belongs to Redis; pick another (or None for a free one)")
        super().__init__()
        self._initial = list(nodes)
        self._port = port
        self._head_cpus = head_cpus
        self._system_config = dict(FAST_FAILURE_DETECTION) if fast_failure_detection else {}
        self._cluster: Any = None
        self._previous_address: str | None = None
        self._specs: dict[str, NodeSpec] = {}

    def _running(self) -> bool:
        return self._cluster is not None

    def start(self) -> str:
        """Start the head and every node; on return all are alive and their resources visible to drivers."""
        if self._running():
            raise RuntimeError("the cluster is already running")
        # Our processes, the drivers of this process and the `ray start` subprocesses inherit this setting.
        disable_token_auth(os.environ)
        try:
            self._temp_dir = short_temp_dir("ebbray-")
            # Cluster writes the head's address to the machine-wide "current cluster" file (so a plain
            # ray.init() would connect here); its directory must exist. shutdown() puts back what was there.
            address_file = get_ray_address_file(None)
            os.makedirs(os.path.dirname(address_file), exist_ok=True)
            if os.path.exists(address_file):
                with open(address_file) as file:
                    self._previous_address = file.read()
            self._cluster = Cluster()
            with _drivers_kv_kept():
                head = self._cluster.add_node(
                    gcs_server_port=self._port or free_port(),
                    num_cpus=self._head_cpus,
                    temp_dir=self._temp_dir,
                    include_dashboard=False,  # still starts Ray's API server, only on a free port
                    dashboard_port=free_port(),
                    dashboard_agent_listen_port=free_port(),
                    object_store_memory=OBJECT_STORE_BYTES,
                    _system_config=self._system_config,
                )
            self._address = str(head.gcs_address)
            for spec in self._initial:
                self._add(spec)
            self.wait_for_nodes()
        except BaseException:
            self.shutdown()
            raise
        return self._address

    def add_node(self, spec: NodeSpec, timeout_s: float = 30.0) -> str:
        """Start a worker node; returns its node id (hex) once it is alive and its resources are visible."""
        node_id = self._add(spec)
        self.wait_for_nodes(timeout_s)
        return node_id

    def _add(self, spec: NodeSpec) -> str:
        if self._cluster is None:
            raise RuntimeError("the cluster is not running")
        if spec.slots < 1:
            raise ValueError(f"a node needs at least one slot, not {spec.slots}")
        with _drivers_kv_kept():
            node = self._cluster.add_node(
                num_cpus=spec.slots if spec.cpus is None else spec.cpus,
                resources={MARKET_RESOURCE[spec.market]: spec.slots},
                labels={MARKET_LABEL: spec.market.value},  # RayParams takes labels (checked in 2.60)
                object_store_memory=OBJECT_STORE_BYTES,
            )
        node_id = str(node.node_id)
        self._specs[node_id] = spec
        return node_id

    def _node_table(self) -> list[dict[str, Any]]:
        if self._cluster is None:
            raise RuntimeError("the cluster is not running")
        table: list[dict[str, Any]] = self._cluster.global_state.node_table()
        return table

    def wait_for_nodes(self, timeout_s: float = 30.0) -> None:
        """Wait until every node started here is alive and its market resource is in the cluster's totals."""
        deadline = time.monotonic() + timeout_s
        while True:
            table = self._node_table()
            self._forget({entry["NodeID"] for entry in table if not entry["Alive"]})
            alive = {entry["NodeID"] for entry in table if entry["Alive"]}
            totals = self._cluster.global_state.total_resources_per_node()
            ours = [(node.node_id, self._specs.get(node.node_id)) for node in self._cluster.list_all_nodes()]
            missing = [
                node_id
                for node_id, spec in ours
                if node_id not in alive
                or node_id not in totals
                or (spec is not None and totals[node_id].get(MARKET_RESOURCE[spec.market], 0) < spec.slots)
            ]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"nodes not up after {timeout_s} s: {missing}")
            time.sleep(0.1)

    def _forget(self, dead: set[str]) -> None:
        """Drop nodes that died on their own (a drained node shuts itself down once idle), reaping what is
        left of their processes, so that waiting for nodes does not wait for them."""
        for node in list(self._cluster.worker_nodes):
            if node.node_id in dead:
                node.kill_all_processes(check_alive=False, allow_graceful=False, wait=True)
                self._cluster.worker_nodes.remove(node)
                self._specs.pop(node.node_id, None)

    def nodes(self) -> list[NodeInfo]:
        """Alive nodes with a market (also those that joined from outside, e.g. `ebbflow worker`)."""
        return [
            NodeInfo(entry["NodeID"], market, int(entry["Resources"][resource]))
            for entry in self._node_table()
            for market, resource in MARKET_RESOURCE.items()
            if entry["Alive"] and entry["Resources"].get(resource, 0) >= 1
        ]

    def kill_node(self, node_id: str) -> None:
        """SIGKILL the node's raylet and all its descendants at once, as if its VM vanished. Works for any
        worker node of this cluster running on this machine, also one that joined with `ray start`."""
        entries = [entry for entry in self._node_table() if entry["NodeID"] == node_id and entry["Alive"]]
        if not entries:
            raise ValueError(f"no alive node {node_id}")
        if node_id == self._cluster.head_node.node_id:
            raise ValueError("the head node cannot be killed")
        pids = node_pids(entries[0]["RayletSocketName"])
        if not pids:
            raise RuntimeError(f"no raylet process of node {node_id} on this machine")
        sigkill_all(pids)
        for node in list(self._cluster.worker_nodes):
            if node.node_id == node_id:  # reap the processes we started, then forget the node
                node.kill_all_processes(check_alive=False, allow_graceful=False, wait=True)
                self._cluster.worker_nodes.remove(node)
        self._specs.pop(node_id, None)

    def shutdown(self) -> None:
        """Kill every process of the cluster (also of nodes that joined from outside), then clean up."""
        cluster, self._cluster = self._cluster, None
        if self._address is None and cluster is not None and cluster.head_node is not None:
            self._address = str(cluster.gcs_address)  # the head started, then start() failed
        try:
            self._disconnect_driver()
            nodes = [] if cluster is None else cluster.list_all_nodes()
            table = process_table()
            roots = [info.process.pid for node in nodes for infos in node.all_processes.values() for info in infos]
            roots += self._named_processes(table)
            sigkill_all(with_descendants(set(roots) - this_process_and_ancestors(table), table))
            for node in nodes:
                node.kill_all_processes(check_alive=False, allow_graceful=False, wait=True)
            if cluster is not None:
                cluster.worker_nodes.clear()
                cluster.head_node = None
                cluster.global_state.disconnect()
        finally:
            services: Any = ray._private.services  # as Cluster.shutdown does
            services.find_gcs_addresses.cache_clear()
            self._restore_address_file()
            self._remove_temp_dir()
            self._specs.clear()

    def _restore_address_file(self) -> None:
        address_file = get_ray_address_file(None)
        try:
            with open(address_file) as file:
                current = file.read()
        except OSError:
            return
        if self._address is not None and current == self._address:
            if self._previous_address is None:
                os.remove(address_file)
            else:
                with open(address_file, "w") as file:
                    file.write(self._previous_address)
        self._previous_address = None
