"""An append-only log of lines kept to a bounded size: when the current file would grow past `max_bytes`, it
is rotated, as the stdlib's `logging.handlers.RotatingFileHandler` does (`name` becomes `name.1`, `name.1`
becomes `name.2`, ..., the oldest beyond `backups` is deleted), so at most `backups + 1` files are kept.

Who writes: one process, the leading head's autoscaler, appends and rotates; readers (the CLI, `/metrics`)
only read, and never rotate. A second writer at the same moment (a leader handing over mid-round, or
`ebbflow autoscaler plan --act` run by hand) is still safe: every append, and the rotation before it, runs
under an exclusive lock on `name.lock`, so two writers never rotate the same file twice or interleave lines. The lock is
advisory (fcntl): it binds only the writers, and a reader never waits for it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

# a decision line is 550-750 bytes (more with many node types): a file holds about 25,000, over two weeks at
# one decision a minute, and the five files kept hold about 80 MiB and three months
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_BACKUPS = 4
MIN_MAX_BYTES = 64 * 1024  # a rotation every few dozen decisions would leave readers little to read


def rotated(path: Path, index: int) -> Path:
    """The current file (index 0), or its index-th rotated predecessor: `name.1` is the newest of those."""
    return path if index == 0 else path.with_name(f"{path.name}.{index}")


def append_line(path: Path, line: bytes, max_bytes: int, backups: int) -> None:
    """Append one line (ending in a newline), rotating first if it would take the file past `max_bytes`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(f"{path.name}.lock").open("ab") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the lock file is closed
        size = _size(path)
        if size > 0 and size + len(line) > max_bytes:
            rotate(path, backups)
        with path.open("a+b") as file:
            file.write(_after_torn_line(file) + line)


def rotate(path: Path, backups: int) -> None:
    """`name` → `name.1` → ... → `name.<backups>`; what would go further is deleted, as are files left beyond
    that by an earlier, larger `backups`. Each step is a rename, so a reader sees every file whole."""
    _delete_from(path, backups)
    for index in range(backups - 1, -1, -1):
        if rotated(path, index).exists():
            os.replace(rotated(path, index), rotated(path, index + 1))


def _delete_from(path: Path, backups: int) -> None:
    index = backups
    while rotated(path, index).exists():
        rotated(path, index).unlink()
        index += 1


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _after_torn_line(file: IO[bytes]) -> bytes:
    """A newline when the file ends in a line cut short (a writer that crashed mid-append), so that the next
    line starts on its own and only the torn one is lost."""
    end = file.seek(0, os.SEEK_END)
    if end == 0:
        return b""
    file.seek(end - 1)
    return b"" if file.read(1) == b"\n" else b"\n"
