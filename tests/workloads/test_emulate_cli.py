"""`ebbflow emulate` as an operator runs it: a process serving the world on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.emulated import free_port

EBBFLOW = str(Path(sys.executable).with_name("ebbflow"))


def test_emulate_serves_the_world_until_interrupted(tmp_path: Path) -> None:
    port = free_port()
    args = [EBBFLOW, "emulate", "--port", str(port), "--users", "1000", "--videos", "5000", "--seed", "3"]
    process = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        answer = _first_answer(f"http://127.0.0.1:{port}/2/users/1/following?max_results=5", process)
        assert answer.status_code == 200 and len(answer.json()["data"]) == 5
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    assert process.returncode == 0, out
    assert "127.0.0.1" in out


def _first_answer(url: str, process: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "ebbflow emulate exited early"
        try:
            return httpx.get(url, headers={"Authorization": "Bearer any"}, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("ebbflow emulate did not answer within 30 s")


def test_emulate_spoils_every_answer_when_asked(tmp_path: Path) -> None:
    port = free_port()
    args = [EBBFLOW, "emulate", "--port", str(port), "--users", "1000", "--videos", "5000"]
    args += ["--fault-rate", "1", "--fault-kinds", "error"]
    process = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        answer = _first_answer(f"http://127.0.0.1:{port}/2/users/1/following?max_results=5", process)
        assert answer.status_code in (500, 502, 503) and answer.json() == {"error": "injected fault"}
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)


def test_emulate_refuses_an_unknown_fault_kind(tmp_path: Path) -> None:
    args = [EBBFLOW, "emulate", "--fault-kinds", "error,gremlins"]
    done = subprocess.run(args, check=False, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and "--fault-kinds" in done.stderr and "gremlins" in done.stderr
