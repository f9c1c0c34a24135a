"""The lines of a log and of its rotated files, newest first, read backwards from the end in blocks.

A reader asking for the last N lines reads only those N lines' bytes (plus one block), whatever the age and
size of the log: `/metrics` and `ebbflow status` read it on every scrape and every refresh.

Reading is safe beside a writer in another process: each file is read only up to the size it had when it was
opened, and a last line without its newline (the writer is mid-append, or crashed there) is skipped. A
rotation while the files are being opened renames a file already read to the next name; the file's identity
(device, inode) tells it apart, so no line is read twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import BinaryIO

from autoscaler.log_files import rotated

BLOCK_BYTES = 64 * 1024  # a few dozen decisions per read: one read serves `ebbflow status`


def newest_lines(path: Path, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Every whole line of `path`, then of `path.1`, `path.2`, ..., each file's last line first; empty lines
    are left out. Lazy: a reader that stops early never opens the older files."""
    seen: set[tuple[int, int]] = set()
    for index in count():
        try:
            file = rotated(path, index).open("rb")
        except FileNotFoundError:
            if index == 0:
                continue  # rotated a moment ago, and its first line not yet written
            return  # the oldest file kept (rotated files are numbered without gaps)
        with file:
            stat = os.fstat(file.fileno())
            if (stat.st_dev, stat.st_ino) in seen:
                continue  # renamed to this name by a rotation since it was read under the newer name
            seen.add((stat.st_dev, stat.st_ino))
            yield from lines_backwards(file, stat.st_size, block_bytes)


def lines_backwards(file: BinaryIO, size: int, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The whole lines in the first `size` bytes of `file`, last first, without their newlines. What follows
    the last newline is a line still being written (or cut short by a crash) and is skipped."""
    end, head, torn = size, b"", True
    while end > 0:
        start = max(0, end - block_bytes)
        file.seek(start)
        # `head` is the start of the earliest line seen so far: it may begin in this block
        parts = (file.read(end - start) + head).split(b"\n")
        end, head, lines = start, parts[0], parts[1:]
        if torn and lines:
            lines, torn = lines[:-1], False  # the first newline from the end: what follows it is unfinished
        yield from (line for line in reversed(lines) if line)
    if head and not torn:
        yield head
