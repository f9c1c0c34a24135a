"""`ebbflow worker`: the `ray start` command it builds, its option checks, and a real node joining a
LocalCluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dispatcher.local_cluster import LocalCluster, NodeInfo
from dispatcher.markets import Market
from ebbflow.ray_worker import ray_executable, worker, worker_command
from tests.dispatcher.test_local_cluster import leftover_processes

REPO = Path(__file__).resolve().parents[2]


def test_ray_is_the_venvs() -> None:
    assert ray_executable() == str(Path(sys.executable).with_name("ray"))
    assert Path(ray_executable()).exists()


def test_a_blocking_spot_worker() -> None:
    assert worker_command("10.0.0.5:6500", "spot", 4, None, True) == [
        ray_executable(),
        "start",
        "--address=10.0.0.5:6500",
        '--resources={"spot": 4}',
        "--num-cpus=4",
        "--labels=market-type=spot",
        "--block",
    ]


def test_an_on_demand_worker_with_its_own_cpu_count() -> None:
    argv = worker_command("head.internal:7000", Market.ON_DEMAND, 3, 2, False)
    assert argv[2:] == [
        "--address=head.internal:7000",
        '--resources={"ondemand": 3}',
        "--num-cpus=2",
        "--labels=market-type=on-demand",
    ]
    assert json.loads(argv[3].partition("=")[2]) == {"ondemand": 3}


@pytest.mark.parametrize(
    ("address", "market", "slots", "cpus", "option"),
    [
        ("head", "spot", 1, None, "--address"),
        ("head:", "spot", 1, None, "--address"),
        (":6500", "spot", 1, None, "--address"),
        ("head:port", "spot", 1, None, "--address"),
        ("head:70000", "spot", 1, None, "--address"),
        ("head:6500", "reserved", 1, None, "--market"),
        ("head:6500", "spot", 0, None, "--slots"),
        ("head:6500", "spot", 1, -1, "--cpus"),
    ],
)
def test_bad_input_names_the_option(address: str, market: str, slots: int, cpus: int | None, option: str) -> None:
    with pytest.raises(click.BadParameter) as raised:
        worker_command(address, market, slots, cpus, True)
    assert raised.value.param_hint == f"'{option}'"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--address", "head", "--market", "spot"], "Invalid value for '--address'"),
        (["--address", "head:6500", "--market", "reserved"], "Invalid value for '--market'"),
        (["--address", "head:6500", "--market", "spot", "--slots", "0"], "Invalid value for '--slots'"),
        (["--address", "head:6500", "--market", "spot", "--cpus", "-1"], "Invalid value for '--cpus'"),
        (["--market", "spot"], "Missing option '--address'"),
        (["--address", "head:6500"], "Missing option '--market'"),
    ],
)
def test_the_command_refuses_bad_options(args: list[str], message: str) -> None:
    result = CliRunner().invoke(worker, args)
    assert result.exit_code == 2
    assert message in result.output


def test_the_command_becomes_ray_start(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str], dict[str, str]]] = []
    monkeypatch.setattr(os, "execvpe", lambda file, argv, env: calls.append((file, argv, env)))
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    result = CliRunner().invoke(worker, ["--address", "10.0.0.5:6500", "--market", "on-demand"])
    assert result.exit_code == 0, result.output
    [(file, argv, env)] = calls
    slots = os.cpu_count() or 1
    assert file == argv[0] == ray_executable()
    assert argv == worker_command("10.0.0.5:6500", Market.ON_DEMAND, slots, None, True)
    assert env["RAY_AUTH_MODE"] == "disabled"
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    CliRunner().invoke(worker, ["--address", "10.0.0.5:6500", "--market", "spot", "--no-block"])
    assert calls[1][2]["RAY_AUTH_MODE"] == "token"
    assert "--block" not in calls[1][1]


@pytest.mark.slow
def test_a_worker_joins_a_cluster_with_its_market() -> None:
    cluster = LocalCluster([])
    address = cluster.start()
    cluster_dir = cluster.temp_dir
    try:
        command = ["--address", address, "--market", "spot", "--slots", "1", "--no-block"]
        joined = subprocess.run(
            [sys.executable, "-c", "from ebbflow.ray_worker import worker; worker()", *command],
            check=False,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert joined.returncode == 0, joined.stderr
        assert "ray start --address=" in joined.stderr
        eventually(lambda: len(cluster.nodes()) == 1, 30)
        [node] = cluster.nodes()
        assert node == NodeInfo(node.node_id, Market.SPOT, 1)

        def raylets() -> list[str]:
            return [line for line in leftover_processes(address, cluster_dir) if "/raylet/raylet " in line]

        assert len(raylets()) == 2  # the head's and the worker's
        cluster.kill_node(node.node_id)  # `ray start --no-block` has exited: the raylet's parent is pid 1
        eventually(lambda: len(raylets()) == 1, 5)
        eventually(lambda: cluster.nodes() == [], 15)  # GCS marked it dead
    finally:
        cluster.shutdown()
    eventually(lambda: leftover_processes(address, cluster_dir) == [], 5)


def eventually(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s} s"
        time.sleep(0.1)
