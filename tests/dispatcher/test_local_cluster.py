"""LocalCluster on real Ray: market resources and labels, placement, a spot node vanishing, a new node
joining, and a shutdown (also of a start that failed halfway) that leaves no process behind."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import ray
from ray._common.utils import get_ray_address_file

from dispatcher.local_cluster import LocalCluster, NodeSpec, free_port, node_pids
from dispatcher.markets import Market

pytestmark = pytest.mark.slow


def leftover_processes(address: str, cluster_dir: str | None = None) -> list[str]:
    """Processes (zombies excepted) whose command line names the cluster's GCS port or temp dir."""
    port = address.rpartition(":")[2]
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    return [
        line
        for line in out.splitlines()
        if not line.split()[1].startswith("Z")
        and (f":{port} " in f"{line} " or f"={port} " in f"{line} " or (cluster_dir and cluster_dir in line))
    ]


def is_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds until condition() held; fails the test after timeout_s."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"{what} did not happen within {timeout_s} s")
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    # A process has one driver: one an earlier module left connected to its own cluster steps aside meanwhile.
    earlier = ray.get_runtime_context().gcs_address if ray.is_initialized() else None
    ray.shutdown()
    local = LocalCluster([NodeSpec(Market.SPOT, 2), NodeSpec(Market.ON_DEMAND, 1)])
    try:
        local.start()
        ray.init(address=local.address)
        yield local
    finally:
        ray.shutdown()
        local.shutdown()
        if earlier is not None:
            ray.init(address=earlier, configure_logging=False, log_to_driver=False)


def node_of(cluster: LocalCluster, market: Market) -> str:
    [node] = [node for node in cluster.nodes() if node.market == market]
    return node.node_id


@ray.remote(num_cpus=0, max_retries=0)
def where(pid_file: str | None = None, sleep_s: float = 0.0) -> str:
    if pid_file is not None:  # written whole, then renamed: a reader never sees it half written
        partial = Path(f"{pid_file}.partial")
        partial.write_text(str(os.getpid()))
        partial.replace(pid_file)
    time.sleep(sleep_s)
    return str(ray.get_runtime_context().get_node_id())


def test_nodes_carry_their_market(cluster: LocalCluster) -> None:
    resources = ray.cluster_resources()
    assert resources.get("spot") == 2
    assert resources.get("ondemand") == 1
    assert resources.get("CPU") == 3  # cpus default to slots; the head has none
    assert sorted((n.market, n.slots) for n in cluster.nodes()) == [(Market.ON_DEMAND, 1), (Market.SPOT, 2)]
    labels = {n["NodeID"]: n["Labels"].get("market-type") for n in ray.nodes() if n["Alive"]}
    assert labels[node_of(cluster, Market.SPOT)] == "spot"
    assert labels[node_of(cluster, Market.ON_DEMAND)] == "on-demand"
    assert ray.get_runtime_context().get_node_id() not in {n.node_id for n in cluster.nodes()}  # on the head


def test_tasks_run_in_the_market_they_ask_for(cluster: LocalCluster) -> None:
    on_spot = where.options(resources={"spot": 1}).remote()
    on_demand = where.options(resources={"ondemand": 1}).remote()
    assert ray.get(on_spot, timeout=60) == node_of(cluster, Market.SPOT)
    assert ray.get(on_demand, timeout=60) == node_of(cluster, Market.ON_DEMAND)


def test_spot_node_vanishes_and_a_new_one_joins(cluster: LocalCluster, tmp_path: Path) -> None:
    spot = node_of(cluster, Market.SPOT)
    pid_file = tmp_path / "pid"
    ref = where.options(resources={"spot": 1}).remote(str(pid_file), 300)
    wait_for(pid_file.exists, 60, "the long task starting")
    task_pid = int(pid_file.read_text())
    [socket_name] = [n["RayletSocketName"] for n in ray.nodes() if n["NodeID"] == spot]
    processes = node_pids(socket_name)  # raylet, its two agents, the task's worker and any idle ones
    assert task_pid in processes
    assert len(processes) >= 4

    start = time.monotonic()
    cluster.kill_node(spot)
    # Observed (Ray 2.60): NodeDiedError 0.02-0.04 s after the kill, as soon as the driver lost its connection
    # to the task's worker; GCS marked the node dead 2-3 s after the kill (fast failure detection).
    with pytest.raises(ray.exceptions.NodeDiedError):
        ray.get(ref, timeout=15)
    failed_after = time.monotonic() - start
    wait_for(lambda: all(is_gone(pid) for pid in processes), 5, "every process of the node dying")
    wait_for(lambda: spot not in {n.node_id for n in cluster.nodes()}, 15, "GCS marking the node dead")
    dead_after = time.monotonic() - start
    print(f"task failed {failed_after:.2f} s, node marked dead {dead_after:.2f} s after the kill")
    assert failed_after < 15
    wait_for(lambda: ray.cluster_resources().get("spot", 0) == 0, 10, "spot capacity gone")

    new = cluster.add_node(NodeSpec(Market.SPOT, 1))
    assert new != spot
    assert ray.cluster_resources().get("spot") == 1
    assert ray.get(where.options(resources={"spot": 1}).remote(), timeout=60) == new


def test_start_failing_halfway_cleans_up(cluster: LocalCluster) -> None:
    address_file = Path(get_ray_address_file(None))
    before = address_file.read_text() if address_file.exists() else None
    port = free_port()
    broken = LocalCluster([NodeSpec(Market.SPOT, 0)], port=port)  # the head starts, then the node is refused
    with pytest.raises(ValueError, match="slot"):
        broken.start()
    wait_for(lambda: leftover_processes(f"head:{port}") == [], 5, "the broken cluster's processes exiting")
    assert (address_file.read_text() if address_file.exists() else None) == before
    assert ray.is_initialized(), "the driver of another cluster was disconnected"
    ray.get(where.options(resources={"ondemand": 1}).remote(), timeout=60)
    assert [p.name for p in Path(cluster.temp_dir).glob("session_2*")], "the running cluster's dir is gone"


def test_shutdown_leaves_no_process(cluster: LocalCluster) -> None:
    cluster_dir, address = cluster.temp_dir, cluster.address
    assert leftover_processes(address, cluster_dir)  # the check does see a running cluster
    assert leftover_processes(address)  # also by port alone
    cluster.shutdown()
    assert not ray.is_initialized()
    wait_for(lambda: not leftover_processes(address, cluster_dir), 5, "all processes exiting")
    assert not Path(cluster_dir).exists()
    address_file = Path(get_ray_address_file(None))
    assert not address_file.exists() or address_file.read_text() != address
