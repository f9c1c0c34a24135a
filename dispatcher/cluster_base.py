"""What the two Ray clusters that run on this machine share: `LocalCluster` (dispatcher/local_cluster.py) and
`FakeAutoscalingCluster` (autoscaler/fake_cluster.py).

Both start a head on a free port (never Redis's 6379) in a short temp dir of their own, with worker nodes as
child processes of this machine, and both find the cluster's processes by pid, from /proc: those whose
command line names the temp dir or the GCS address, and all their descendants (task workers rename
themselves, so they are found as children, never by their command line). Neither ever runs
`ray stop --force`, which would kill every Ray cluster of the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, MutableMapping
from typing import Self

import ray

REDIS_PORT = 6379  # taken by Redis on our machines, and Ray's default GCS port
OBJECT_STORE_BYTES = 100 * 1024 * 1024  # per node; Ray's minimum is 75 MiB, its default 30 % of RAM

ProcessTable = dict[int, tuple[int, list[str]]]  # pid -> (parent pid, argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("", 0))
        port: int = sock.getsockname()[1]
    return port


def short_temp_dir(prefix: str) -> str:
    """A new temp dir for a cluster's sessions, sockets and logs. Short: Unix socket paths must fit 107 bytes."""
    return tempfile.mkdtemp(prefix=prefix)


def disable_token_auth(env: MutableMapping[str, str]) -> None:
    """Turn Ray's token auth off in `env` unless RAY_AUTH_MODE says otherwise. With RAY_AUTH_MODE unset, a head
    started while ~/.ray/auth_token exists (the first ray.init() on a machine writes it) switches token auth
    on, and drivers or CLI calls without the token then fail."""
    env.setdefault("RAY_AUTH_MODE", "disabled")


def process_table() -> ProcessTable:
    """pid -> (parent pid, argv) of every process, read from /proc."""
    table: ProcessTable = {}
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


def with_descendants(roots: Iterable[int], table: ProcessTable) -> set[int]:
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


def this_process_and_ancestors(table: ProcessTable) -> set[int]:
    """Never to be killed as the cluster's: their argv might name it (a test runner, a shell, the demo)."""
    own, pid = set(), os.getpid()
    while pid in table and pid not in own:
        own.add(pid)
        pid = table[pid][0]
    return own


def send_signal(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def sigkill_all(pids: Iterable[int]) -> None:
    """SIGKILL processes at once. They are stopped first so that none (a raylet) can start another in between."""
    pids = set(pids) - {os.getpid()}
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        send_signal(pids, sig)


class ClusterBase(ABC):
    """A Ray cluster whose processes run on this machine: its GCS address and temp dir while it runs, a context
    manager that starts it (unless it runs already) and shuts it down."""

    def __init__(self) -> None:
        self._address: str | None = None
        self._temp_dir: str | None = None

    @property
    def address(self) -> str:
        if self._address is None:
            raise RuntimeError("the cluster is not running")
        return self._address

    @property
    def temp_dir(self) -> str:
        """Root of the cluster's session directories, sockets and logs (removed by shutdown)."""
        if self._temp_dir is None:
            raise RuntimeError("the cluster is not running")
        return self._temp_dir

    @abstractmethod
    def start(self) -> str:
        """Start the cluster; returns the GCS address."""

    @abstractmethod
    def shutdown(self) -> None:
        """Kill every process of the cluster, then clean up (a no-op when it does not run)."""

    @abstractmethod
    def _running(self) -> bool:
        """Whether start() has run (or runs) and shutdown() has not."""

    def _disconnect_driver(self) -> None:
        if ray.is_initialized() and ray.get_runtime_context().gcs_address == self._address:
            ray.shutdown()  # a driver left connected would keep retrying a dead GCS

    def _named_processes(self, table: ProcessTable) -> list[int]:
        """Processes whose command line names the cluster's temp dir (or a path in it) or its GCS address."""
        temp_dir, address = self._temp_dir, self._address
        return [
            pid
            for pid, (_, argv) in table.items()
            if any(
                (temp_dir is not None and (arg == temp_dir or f"{temp_dir}/" in arg or arg.endswith(f"={temp_dir}")))
                or (address is not None and arg.endswith(address))
                for arg in argv
            )
        ]

    def _remove_temp_dir(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
        self._address = self._temp_dir = None

    def __enter__(self) -> Self:
        if not self._running():
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
