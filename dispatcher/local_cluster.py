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
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Self

import ray
import ray._private.services
import ray.experimental.internal_kv
from ray._common.utils import get_ray_address_file
from ray.cluster_utils import Cluster

from dispatcher.markets import MARKET_LABEL, MARKET_RESOURCE, Market

REDIS_PORT = 6379  # taken by Redis on our machines, and Ray's default GCS port
OBJECT_STORE_BYTES = 100 * 1024 * 1024  # per node; Ray's minimum is 75 MiB
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("", 0))
        port: int = sock.getsockname()[1]
    return port


def _process_table() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, argv) of every process, read from /proc."""
    table: dict[int, tuple[int, list[str]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat, open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
                    argv = [arg.decode(errors="replace") for arg in cmdline.read().split(b"\0") if arg]
            except (OSError, IndexError, ValueError):  # exited meanwhile
                continue
            table[int(entry)] = (ppid, argv)
    return table


def _with_descendants(roots: Iterable[int], table: dict[int, tuple[int, list[str]]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid not in found:
            found.add(pid)
            stack.extend(children.get(pid, []))
    return found


def node_pids(raylet_socket_name: str) -> set[int]:
    """The raylet listening on this socket (Ray's `RayletSocketName`) and all its descendants: the dashboard
    and runtime-env agents and the task/actor workers. Task workers rename themselves (`ray::IDLE`), so they
    are found as the raylet's children, never by their command line."""
    table = _process_table()
    roots = [pid for pid, (_, argv) in table.items() if f"--raylet_socket_name={raylet_socket_name}" in argv]
    return _with_descendants(roots, table)


def sigkill_all(pids: Iterable[int]) -> None:
    """SIGKILL processes at once. They are stopped first so that none (a raylet) can start another in between."""
    pids = set(pids) - {os.getpid()}
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


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


class LocalCluster:
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
        self._initial = list(nodes)
        self._port = port
        self._head_cpus = head_cpus
        self._system_config = dict(FAST_FAILURE_DETECTION) if fast_failure_detection else {}
        self._cluster: Any = None
        self._address: str | None = None
        self._temp_dir: str | None = None
        self._previous_address: str | None = None
        self._specs: dict[str, NodeSpec] = {}

    @property
    def address(self) -> str:
        if self._address is None:
            raise RuntimeError("the cluster is not running")
        return self._address

    @property
    def temp_dir(self) -> str:
        """Root of the cluster's session directory, sockets and logs (removed by shutdown)."""
        if self._temp_dir is None:
            raise RuntimeError("the cluster is not running")
        return self._temp_dir

    def start(self) -> str:
        """Start the head and every node; on return all are alive and their resources visible to drivers."""
        if self._cluster is not None:
            raise RuntimeError("the cluster is already running")
        # With RAY_AUTH_MODE unset, a head started while ~/.ray/auth_token exists (the first ray.init() on a
        # machine writes it) switches token auth on, and drivers or CLI calls without the token then fail.
        # Our processes, the drivers of this process and the `ray start` subprocesses inherit this.
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        try:
            self._temp_dir = tempfile.mkdtemp(prefix="ebbray-")  # short: Unix socket paths must fit 107 bytes
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
            if ray.is_initialized() and ray.get_runtime_context().gcs_address == self._address:
                ray.shutdown()  # a driver left connected would keep retrying a dead GCS
            nodes = [] if cluster is None else cluster.list_all_nodes()
            table = _process_table()
            roots = [info.process.pid for node in nodes for infos in node.all_processes.values() for info in infos]
            roots += [pid for pid, (_, argv) in table.items() if self._mentions_cluster(argv)]
            pid, own = os.getpid(), set()  # never this process or its ancestors (their argv might name us)
            while pid in table and pid not in own:
                own.add(pid)
                pid = table[pid][0]
            sigkill_all(_with_descendants(set(roots) - own, table))
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
            if self._temp_dir is not None:
                shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._address = self._temp_dir = None
            self._specs.clear()

    def _mentions_cluster(self, argv: list[str]) -> bool:
        temp_dir, address = self._temp_dir, self._address
        return any(
            (temp_dir is not None and (arg == temp_dir or f"{temp_dir}/" in arg or arg.endswith(f"={temp_dir}")))
            or (address is not None and arg.endswith(address))
            for arg in argv
        )

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

    def __enter__(self) -> Self:
        if self._cluster is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
