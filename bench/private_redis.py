"""A redis-server of the caller's own, on a free port: for figures the shared server would blur (its used_memory
moves only with what the benchmark stores), and for tests that need what the shared one must not be given: a
password, TLS, an append-only file, a kill -9 or a pause. Its scratch folder is removed on exit."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from bench.tls_certs import TlsFiles

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One redis-server process on `port` with its data in `folder`; it can be stopped, killed, paused and
    started again on the same port and folder (so an append-only file brings the data back)."""

    def __init__(
        self,
        folder: Path,
        *,
        password: str | None = None,
        tls: TlsFiles | None = None,
        tls_auth_clients: bool = False,
        appendonly: bool = False,
    ) -> None:
        self.folder = folder
        self.port = free_port()
        self.password = password
        self.tls = tls
        self.tls_auth_clients = tls_auth_clients
        self.appendonly = appendonly
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL, without its password."""
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        ports = ["--port", "0", "--tls-port", str(self.port)] if self.tls else ["--port", str(self.port)]
        command = ["redis-server", *ports, "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", ""]
        command += ["--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always"]
        if self.password is not None:
            command += ["--requirepass", self.password]
        if self.tls is not None:
            command += ["--tls-cert-file", str(self.tls.server_cert), "--tls-key-file", str(self.tls.server_key)]
            command += ["--tls-ca-cert-file", str(self.tls.ca)]
            command += ["--tls-auth-clients", "yes" if self.tls_auth_clients else "no"]
        return command

    def client(self, **options: Any) -> redis.Redis:
        """A client that can talk to it (the password and the client certificate included)."""
        kwargs: dict[str, Any] = {"host": "127.0.0.1", "port": self.port, "password": self.password, **options}
        if self.tls is not None:
            kwargs.update(ssl=True, ssl_ca_certs=str(self.tls.ca))
            kwargs.update(ssl_certfile=str(self.tls.client_cert), ssl_keyfile=str(self.tls.client_key))
        return redis.Redis(**kwargs)

    def start(self) -> RedisServer:
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError(f"redis-server on port {self.port} is already running")
        self._process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()
        return self

    def stop(self) -> None:
        """SIGTERM (redis-server finishes its append-only file), then SIGKILL if it lingers."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            self.resume()
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._close(process)

    def kill(self) -> None:
        """kill -9: no shutdown, what the append-only file holds is all that survives."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
            self._close(process)

    def pause(self) -> None:
        """SIGSTOP: the server holds its connections but answers nothing until `resume`."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGCONT)

    def _close(self, process: subprocess.Popen[bytes]) -> None:
        if process.stderr is not None:
            process.stderr.close()
        self._process = None

    def _wait_ready(self) -> None:
        process = self._process
        assert process is not None
        client = self.client(socket_connect_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                    raise RuntimeError(f"redis-server exited with code {process.returncode}: {error[-500:]}")
                with contextlib.suppress(redis.ConnectionError):
                    if client.ping():
                        return
                time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {START_TIMEOUT_S:.0f} s")


@contextlib.contextmanager
def redis_server(
    *,
    password: str | None = None,
    tls: TlsFiles | None = None,
    tls_auth_clients: bool = False,
    appendonly: bool = False,
) -> Iterator[RedisServer]:
    """A started RedisServer in a scratch folder, stopped and removed on exit."""
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(
            Path(folder), password=password, tls=tls, tls_auth_clients=tls_auth_clients, appendonly=appendonly
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def private_redis() -> Iterator[int]:
    """The port of a fresh redis-server without persistence, stopped (and its folder removed) on exit."""
    with redis_server() as server:
        yield server.port
