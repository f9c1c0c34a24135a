"""A MariaDB server of a test's own (the machine's shared one has TLS off and must stay as it is): a fresh data
folder, a free port, TLS with a throwaway CA and, when asked, only TLS connections. Stopped on exit."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql

from bench.private_redis import free_port
from bench.tls_certs import TlsFiles

START_TIMEOUT_S = 30.0
USER, DATABASE = "ebbflow", "ebbflow"


def mariadb_available() -> bool:
    return shutil.which("mariadb-install-db") is not None and Path("/usr/sbin/mariadbd").exists()


@contextlib.contextmanager
def mariadb_server(tls: TlsFiles, password: str, require_tls: bool = True) -> Iterator[int]:
    """The port of a fresh mariadbd with user `ebbflow` (this password) owning database `ebbflow`."""
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        install = ["mariadb-install-db", "--no-defaults", f"--datadir={folder / 'data'}", "--user=root"]
        install += ["--auth-root-authentication-method=normal", "--skip-test-db"]
        subprocess.run(install, check=True, capture_output=True, timeout=60)
        command = ["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={folder / 'data'}", "--user=root"]
        command += [f"--port={port}", f"--socket={folder / 'mysqld.sock'}", "--bind-address=127.0.0.1"]
        command += [f"--pid-file={folder / 'mysqld.pid'}", "--skip-log-bin", "--innodb-buffer-pool-size=16M"]
        command += [f"--ssl-ca={tls.ca}", f"--ssl-cert={tls.server_cert}", f"--ssl-key={tls.server_key}"]
        if require_tls:
            command.append("--require-secure-transport=ON")
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_and_create_user(port, server, tls, password)
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


def _wait_and_create_user(port: int, server: subprocess.Popen[bytes], tls: TlsFiles, password: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if server.poll() is not None:
            error = server.stderr.read().decode(errors="replace") if server.stderr else ""
            raise RuntimeError(f"mariadbd exited with code {server.returncode}: {error[-800:]}")
        try:
            root = pymysql.connect(host="127.0.0.1", port=port, user="root", ssl={"ca": str(tls.ca)})
            break
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with root, root.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {DATABASE}")
        cursor.execute(f"CREATE USER '{USER}'@'%%' IDENTIFIED BY %s", (password,))  # %% : pymysql formats
        cursor.execute(f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'%'")
