"""A redis-server of the benchmark's own, on a free port, for figures the shared server would blur: its
used_memory moves only with what the benchmark stores. No persistence, so nothing is written to disk."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import redis

START_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def private_redis() -> Iterator[int]:
    """The port of a fresh redis-server, stopped (and its scratch folder removed) on exit."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        server = subprocess.Popen([*command, "--dir", folder], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_ready(port, server)
            yield port
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if server.stderr is not None:
                server.stderr.close()


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    client = redis.Redis(port=port)
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {server.returncode} on port {port}")
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    return
            time.sleep(0.05)
    finally:
        client.close()
    raise RuntimeError(f"redis-server did not answer on port {port} within {START_TIMEOUT_S:.0f} s")
