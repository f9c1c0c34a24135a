"""The trace file layout that reading and writing share: the columns, which of them may be empty and what
each must hold, the file type from the file name, opening a file as text (gzipped or not), and `TraceError`.
"""

from __future__ import annotations

import gzip
import json
import os
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal

from scheduler.config import DEFAULT_LEVELS

__all__ = [
    "ARRIVAL_COLUMNS",
    "EXPECTED_VALUES",
    "LEVEL_NAMES",
    "MARKET_COLUMNS",
    "NULLABLE_COLUMNS",
    "Format",
    "PathLike",
    "TraceError",
    "file_format",
    "open_text",
]

PathLike = str | os.PathLike[str]
Format = Literal["csv", "jsonl"]

ARRIVAL_COLUMNS = ("at_s", "type", "level", "tenant", "work_s", "deadline_s")
MARKET_COLUMNS = ("at_s", "node_type", "price", "available", "reclaim")
LEVEL_NAMES: tuple[str, ...] = tuple(level.name for level in DEFAULT_LEVELS)

NULLABLE_COLUMNS = {"deadline_s", "price", "available", "reclaim"}
EXPECTED_VALUES = {
    "at_s": "seconds since the trace start (a number >= 0)",
    "work_s": "seconds of work on one slot (a number >= 0)",
    "deadline_s": "the deadline in seconds since the trace start, not before at_s, or empty for none",
    "type": "a job type name",
    "tenant": "a tenant name",
    "price": "the spot price in $/hour (a number >= 0), or empty for unchanged",
    "available": "1 (spot capacity), 0 (none), or empty for unchanged",
    "reclaim": "the fraction 0..1 of its running spot nodes taken back, or empty for 0",
}


class TraceError(ValueError):
    """A trace file that cannot be read: the message names the file, the line and the column."""

    def __init__(self, path: PathLike, message: str, line: int | None = None, column: str | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


def file_format(path: PathLike) -> Format:
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise TraceError(path, "unknown file type; expected a name ending in .csv or .jsonl (either may add .gz)")


@contextmanager
def open_text(path: PathLike) -> Iterator[IO[str]]:
    if str(path).lower().endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as handle:
            yield handle
    else:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            yield handle


def load_small_file(path: PathLike) -> Any:
    """A small JSON or TOML file's data (node types, checkpoints), by its name's suffix; TraceError naming
    the file when it cannot be read or parsed."""
    suffix = Path(path).suffix.lower()
    if suffix not in {".json", ".toml"}:
        raise TraceError(path, "unknown file type; expected a name ending in .json or .toml")
    try:
        with open(path, "rb") as handle:
            return json.load(handle) if suffix == ".json" else tomllib.load(handle)
    except OSError as err:
        raise TraceError(path, f"cannot read it ({err.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise TraceError(path, f"not valid {suffix[1:].upper()}: {err}") from None
