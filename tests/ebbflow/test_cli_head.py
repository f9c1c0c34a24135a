"""`ebbflow local-cluster` and `ebbflow head --ray-address` as an operator runs them: separate processes,
the embedded SQLite store, jobs submitted with the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.private_redis import free_port

EBBFLOW = str(Path(sys.executable).with_name("ebbflow"))


def start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [EBBFLOW, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def stop(process: subprocess.Popen[str], timeout_s: float = 60) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        pytest.fail(f"{process.args} did not stop on SIGTERM: {out}")
    return out


def ray_address_of(cluster: subprocess.Popen[str]) -> str:
    """The address `ebbflow local-cluster` prints; Ray may log a line or two before it."""
    seen = []
    for line in cluster.stdout or ():
        if line.startswith("ray address: "):
            return line.removeprefix("ray address: ").strip()
        seen.append(line)
        if len(seen) > 50:
            break
    pytest.fail(f"no ray address from local-cluster: {''.join(seen)}")


def test_head_runs_jobs_on_a_local_multi_node_cluster(tmp_path: Path) -> None:
    cluster = start("local-cluster", "--spot", "1", "--ondemand", "1", cwd=tmp_path)
    head = None
    try:
        address = ray_address_of(cluster)
        for i in range(6):
            level = "new-signup" if i % 3 == 0 else "batch"
            submit = [EBBFLOW, "submit", "noop", "--tenant", f"t{i % 3}", "--class", level]
            subprocess.run(submit, cwd=tmp_path, check=True, capture_output=True)
        port = free_port()
        head = start("head", "--ray-address", address, cwd=tmp_path, env={"EBBFLOW_HEAD__METRICS_PORT": str(port)})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status = subprocess.run([EBBFLOW, "status"], cwd=tmp_path, capture_output=True, text=True, check=True)
            if "no jobs pending or running" in status.stdout:
                break
            time.sleep(0.5)
        # the head's /metrics (on localhost) says what its dispatcher did and what the queue holds
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(scraped)
            for sample in family.samples
        }
        assert samples[("ebbflow_dispatch_outcomes_total", (("outcome", "done"),))] == 6
        assert samples[("ebbflow_dead_letters", ())] == 0
        out = stop(head)
        assert "head stopped: leased 6, done 6" in out, out
    finally:
        if head is not None and head.poll() is None:
            head.kill()
        out = stop(cluster)
    assert "local cluster stopped" in out


def test_status_watch_redraws_until_ctrl_c(tmp_path: Path) -> None:
    # given a watch started on an empty queue
    watch = start("status", "--watch", "--every", "0.2", cwd=tmp_path)
    try:
        time.sleep(2)
        # when a job is submitted meanwhile, and the watch gets Ctrl-C
        subprocess.run([EBBFLOW, "submit", "noop", "--tenant", "t"], cwd=tmp_path, check=True, capture_output=True)
        time.sleep(1.5)
        watch.send_signal(signal.SIGINT)
        out, _ = watch.communicate(timeout=30)
    finally:
        if watch.poll() is None:
            watch.kill()
    # then it ended cleanly, and its last frame shows the job that arrived after it started
    assert watch.returncode == 0, out
    assert "noop" in out and "Levels" in out
