"""A real moto server in a child process, for tests of the EC2 fleet.

`MotoServer.start()` runs `moto_server -H 127.0.0.1 -p <free port>` from this interpreter's bin directory
and waits until it answers; `reset()` clears all its state (POST /moto-api/reset); `stop()` ends that one
process (and its process group, which it leads). `ec2_client()` is a boto3 EC2 client for us-east-1 with
dummy credentials pointed at it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

REGION = "us-east-1"
START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    @classmethod
    def start(cls, attempts: int = 3) -> MotoServer:
        """A running server on a free port (another port is tried if the chosen one was taken meanwhile)."""
        binary = Path(sys.executable).parent / "moto_server"
        for _ in range(attempts):
            port = free_port()
            proc = subprocess.Popen(
                [str(binary), "-H", "127.0.0.1", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            server = cls(proc, port)
            if server._wait_ready():
                return server
            server.stop()
        raise RuntimeError(f"moto_server did not start after {attempts} attempts")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.reset()
                return True
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        return False

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def ec2_client(self) -> Any:
        return boto3.client(
            "ec2",
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    """A moto server for the test module (import this fixture by name)."""
    server = MotoServer.start()
    try:
        yield server
    finally:
        server.stop()
