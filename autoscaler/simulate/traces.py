"""Trace files: job arrivals and spot market history, as CSV or JSON Lines (documented in docs/traces.md).

The format follows the file name: `.csv` (a header row, then one row per record) or `.jsonl` / `.ndjson` (one
JSON object per line), either optionally gzipped (`.csv.gz`, `.jsonl.gz`). Files are read with pyarrow and
checked column by column with NumPy, so a million rows take about a second; a bad value raises `TraceError`
naming the file, the line (1-based, as an editor counts lines, the header included) and the column, and what
was expected there.

Arrivals: `at_s, type, level, tenant, work_s, deadline_s`. Market: `at_s, node_type, price, available,
reclaim`. A column whose value may be empty may also be left out altogether (in JSON Lines, a key left out of
an object counts as empty); other columns found in a file are ignored. Node types, which market rows name,
come from the caller or from a small JSON or TOML file (`read_node_types`).
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
from pydantic import TypeAdapter, ValidationError

from autoscaler.fleet import NodeType
from autoscaler.simulate.model import Arrivals, Market, Trace
from dispatcher.markets import Market as MarketKind
from scheduler.config import DEFAULT_LEVELS

PathLike = str | os.PathLike[str]
Format = Literal["csv", "jsonl"]
Bools = npt.NDArray[np.bool_]

ARRIVAL_COLUMNS = ("at_s", "type", "level", "tenant", "work_s", "deadline_s")
MARKET_COLUMNS = ("at_s", "node_type", "price", "available", "reclaim")
LEVEL_NAMES: tuple[str, ...] = tuple(level.name for level in DEFAULT_LEVELS)
MARGIN_S = 3600.0  # read_trace's default duration: the last event plus this, so the last jobs can run

_NULLABLE = {"deadline_s", "price", "available", "reclaim"}
_EXPECT = {
    "at_s": "seconds since the trace start (a number >= 0)",
    "work_s": "seconds of work on one slot (a number >= 0)",
    "deadline_s": "the deadline in seconds since the trace start, not before at_s, or empty for none",
    "type": "a job type name",
    "tenant": "a tenant name",
    "price": "the spot price in $/hour (a number >= 0), or empty for unchanged",
    "available": "1 (spot capacity), 0 (none), or empty for unchanged",
    "reclaim": "the fraction 0..1 of its running spot nodes taken back, or empty for 0",
}
_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no"}


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


# ---------------------------------------------------------------------------------------------------- reading


def read_arrivals(path: PathLike, levels: Sequence[str] = LEVEL_NAMES) -> Arrivals:
    """Job arrivals from a CSV or JSON Lines file, sorted by `at_s` (ties keep their file order).

    `level` is an index (0 = the top level) or a level name from `levels`; job types and tenants become
    indices into the sorted tuples of the names found."""
    source = _Source(path)
    table = source.table(ARRIVAL_COLUMNS)
    at_s = _times(source, table)
    work_s = _numbers(source, table, "work_s")
    source.check(work_s < 0, "work_s", lambda i: f"{_show(work_s[i])} is negative")
    deadline_s = _numbers(source, table, "deadline_s")
    source.check(
        deadline_s < at_s, "deadline_s", lambda i: f"{_show(deadline_s[i])} is before the arrival at {_show(at_s[i])}"
    )
    job_type, types = _names(source, table, "type")
    tenant, tenants = _names(source, table, "tenant")
    level = _levels(source, table, tuple(levels))
    order = _order(at_s)
    return Arrivals(
        at_s=at_s[order],
        job_type=job_type[order],
        level=level[order],
        tenant=tenant[order],
        work_s=work_s[order],
        deadline_s=deadline_s[order],
        types=types,
        tenants=tenants,
    )


def read_market(path: PathLike, node_types: Sequence[NodeType]) -> Market:
    """Spot market changes from a CSV or JSON Lines file, sorted by `at_s` (ties keep their file order).

    `node_type` names one of the spot types in `node_types`; the result's `node_type` indexes `node_types`."""
    node_types = _checked_node_types(node_types)
    source = _Source(path)
    table = source.table(MARKET_COLUMNS)
    at_s = _times(source, table)
    codes, names = _names(source, table, "node_type")
    known = {t.name: i for i, t in enumerate(node_types)}
    spot = ", ".join(t.name for t in node_types if t.market is MarketKind.SPOT) or "(none)"
    remap = np.array([known.get(name, -1) for name in names], dtype=np.int32)
    node_type = remap[codes] if len(codes) else codes
    source.check(
        node_type < 0,
        "node_type",
        lambda i: f"unknown node type {names[codes[i]]!r}; expected one of the spot types: {spot}",
    )
    ondemand = np.array([t.market is not MarketKind.SPOT for t in node_types], dtype=np.bool_)
    source.check(
        ondemand[node_type],
        "node_type",
        lambda i: (
            f"{names[codes[i]]!r} is an on-demand type, whose price and capacity are fixed; "
            f"expected one of the spot types: {spot}"
        ),
    )
    price = _numbers(source, table, "price")
    source.check(price < 0, "price", lambda i: f"{_show(price[i])} is negative")
    available = _flags(source, table, "available")
    reclaim = np.nan_to_num(_numbers(source, table, "reclaim"), nan=0.0)
    source.check((reclaim < 0) | (reclaim > 1), "reclaim", lambda i: f"{_show(reclaim[i])} is not within 0..1")
    order = _order(at_s)
    return Market(
        at_s=at_s[order],
        node_type=node_type[order],
        price=price[order],
        available=available[order],
        reclaim=reclaim[order],
        node_types=node_types,
    )


def read_node_types(path: PathLike) -> tuple[NodeType, ...]:
    """Node types from a JSON file (a list of objects, or {"node_types": [...]}) or a TOML file
    (`[[node_types]]` tables, or `[[autoscaler.node_types]]` as in ebbflow.toml); keys as in `NodeType`."""
    suffix = Path(path).suffix.lower()
    if suffix not in {".json", ".toml"}:
        raise TraceError(path, "unknown file type; expected a name ending in .json or .toml")
    try:
        with open(path, "rb") as handle:
            data: Any = json.load(handle) if suffix == ".json" else tomllib.load(handle)
    except OSError as err:
        raise TraceError(path, f"cannot read it ({err.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise TraceError(path, f"not valid {suffix[1:].upper()}: {err}") from None
    if isinstance(data, dict):
        autoscaler = data.get("autoscaler")
        data = data.get("node_types", autoscaler.get("node_types") if isinstance(autoscaler, dict) else None)
    if not isinstance(data, list) or not data:
        raise TraceError(path, "no node types; expected a list of node types (name, market, instance_type, ...)")
    try:
        node_types = _NODE_TYPES.validate_python(data)
    except ValidationError as err:
        problems = "; ".join(
            f"node_types[{e['loc'][0]}]" + "".join(f".{part}" for part in e["loc"][1:]) + f": {e['msg']}"
            for e in err.errors()
        )
        raise TraceError(path, problems) from None
    try:
        return _checked_node_types(node_types)
    except ValueError as err:
        raise TraceError(path, str(err)) from None


def read_trace(
    arrivals_path: PathLike,
    market_path: PathLike | None,
    node_types: Sequence[NodeType] | PathLike,
    duration_s: float | None = None,
    *,
    start_epoch_s: float = 0.0,
    levels: Sequence[str] = LEVEL_NAMES,
) -> Trace:
    """A trace from an arrivals file and a market file (None: no market rows, so spot is always available
    at its on-demand price). `node_types` is the simulated fleet's types or a file to read them from.
    `duration_s` defaults to the last arrival or market change plus `MARGIN_S`; `start_epoch_s` is the
    calendar time (Unix seconds, UTC) of t = 0."""
    types = read_node_types(node_types) if isinstance(node_types, str | os.PathLike) else tuple(node_types)
    arrivals = read_arrivals(arrivals_path, levels)
    market = read_market(market_path, types) if market_path is not None else _empty_market(types)
    if duration_s is None:
        last = max(arrivals.at_s[-1] if len(arrivals) else 0.0, market.at_s[-1] if len(market) else 0.0)
        duration_s = float(last) + MARGIN_S
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a number > 0, got {duration_s}")
    return Trace(arrivals=arrivals, market=market, duration_s=float(duration_s), start_epoch_s=start_epoch_s)


_NODE_TYPES: TypeAdapter[tuple[NodeType, ...]] = TypeAdapter(tuple[NodeType, ...])


def _checked_node_types(node_types: Sequence[NodeType]) -> tuple[NodeType, ...]:
    names = [t.name for t in node_types]
    if len(set(names)) != len(names):
        raise ValueError(f"node type names must be unique, got {names}")
    for t in node_types:
        if t.slots < 1 or t.max_nodes < 0 or not t.ondemand_price > 0:
            raise ValueError(f"{t.name}: slots must be >= 1, max_nodes >= 0 and ondemand_price > 0")
    return tuple(node_types)


def _empty_market(node_types: tuple[NodeType, ...]) -> Market:
    return Market(
        at_s=np.zeros(0, np.float64),
        node_type=np.zeros(0, np.int32),
        price=np.zeros(0, np.float64),
        available=np.zeros(0, np.int8),
        reclaim=np.zeros(0, np.float64),
        node_types=node_types,
    )


def _format(path: PathLike) -> Format:
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise TraceError(path, "unknown file type; expected a name ending in .csv or .jsonl (either may add .gz)")


@contextmanager
def _open_text(path: PathLike) -> Iterator[IO[str]]:
    if str(path).lower().endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as handle:
            yield handle
    else:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            yield handle


class _Source:
    """One file being read: its table, and the errors that point into it by line."""

    def __init__(self, path: PathLike) -> None:
        self.path = path
        self.format = _format(path)
        self.empty = "empty" if self.format == "csv" else "missing or null"

    def error(self, record: int | None, column: str | None, problem: str, expected: str | None = None) -> TraceError:
        line = self.line(record) if record is not None else None
        message = problem if expected is None else f"{problem}; expected {expected}"
        return TraceError(self.path, message, line, column)

    def check(self, bad: Bools, column: str, problem: Callable[[int], str]) -> None:
        """Raise for the first record where `bad` holds, saying how many more share the problem."""
        if not bad.any():
            return
        rows = np.flatnonzero(bad)
        more = _more(len(rows) - 1)
        raise self.error(int(rows[0]), column, problem(int(rows[0])) + more, _EXPECT.get(column))

    def line(self, record: int) -> int:
        """The 1-based line on which a record (0-based, in file order) starts: the file is read again, which
        only an error needs. Blank lines are skipped, as the readers skip them."""
        with _open_text(self.path) as handle:
            if self.format == "jsonl":
                seen = -1
                for number, text in enumerate(handle, start=1):
                    if text.strip():
                        seen += 1
                        if seen == record:
                            return number
            else:
                reader = csv.reader(handle)
                seen, end = -2, 0  # -2: the header is still to come
                for row in reader:
                    start, end = end + 1, reader.line_num
                    if row:
                        seen += 1
                        if seen == record:
                            return start
        return record + (1 if self.format == "jsonl" else 2)

    def table(self, columns: Sequence[str]) -> pa.Table:
        """The file's known columns; required ones missing raise. CSV values are read as text (and trimmed),
        then converted column by column, so each bad value can be traced to its row."""
        try:
            if self.format == "csv":
                table = self._csv(columns)
            else:
                try:
                    table = pjson.read_json(self.path)
                except pa.ArrowInvalid:
                    table = self._json_slowly(columns)
                if table.num_rows == 0:  # no objects at all: no records, whatever their keys
                    return pa.table({c: pa.array([], pa.string()) for c in columns})
                table = table.select([c for c in columns if c in table.column_names])
        except OSError as err:
            raise TraceError(self.path, f"cannot read it ({err})") from None
        except UnicodeDecodeError as err:
            raise TraceError(self.path, f"not UTF-8 text ({err})") from None
        for column in columns:
            if column not in table.column_names and column not in _NULLABLE:
                raise TraceError(
                    self.path,
                    f"no column {column!r}; expected the columns {', '.join(columns)} "
                    f"({', '.join(c for c in columns if c in _NULLABLE)} may be left out)",
                )
        return table

    def _csv(self, columns: Sequence[str]) -> pa.Table:
        header = self._csv_header()
        stripped = {name.strip(): name for name in header}
        found = [stripped[c] for c in columns if c in stripped]
        try:
            table = pcsv.read_csv(
                self.path,
                convert_options=pcsv.ConvertOptions(
                    column_types={name: pa.string() for name in found},
                    include_columns=found,
                    null_values=[""],
                    strings_can_be_null=True,
                ),
            )
        except pa.ArrowInvalid as err:
            raise self._csv_problem(len(header), err) from None
        table = table.rename_columns([name.strip() for name in table.column_names])
        trimmed = [pc.utf8_trim_whitespace(table.column(i)) for i in range(table.num_columns)]
        # An empty value after trimming counts as empty, as an empty one does.
        return pa.table(
            [pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col) for col in trimmed],
            names=table.column_names,
        )

    def _csv_header(self) -> list[str]:
        with _open_text(self.path) as handle:
            for row in csv.reader(handle):
                if row:
                    return row
        raise TraceError(self.path, "the file is empty; expected a header row naming the columns")

    def _csv_problem(self, width: int, err: Exception) -> TraceError:
        """The row arrow could not parse, found by reading the file again with Python's csv module."""
        with _open_text(self.path) as handle:
            reader = csv.reader(handle)
            header_seen, end = False, 0
            for row in reader:
                start, end = end + 1, reader.line_num
                if not row:
                    continue
                if header_seen and len(row) != width:
                    return TraceError(
                        self.path, f"{len(row)} values; expected {width}, one per column of the header", start
                    )
                header_seen = True
        return TraceError(self.path, f"cannot parse it as CSV: {err}")

    def _json_slowly(self, columns: Sequence[str]) -> pa.Table:
        """Arrow refused the file (a value of the wrong kind, a column mixing numbers and text, broken JSON):
        read it line by line, to accept what is valid and point at what is not."""
        values: dict[str, list[Any]] = {c: [] for c in columns}
        record = 0
        with _open_text(self.path) as handle:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    row = orjson.loads(text)
                except orjson.JSONDecodeError as err:
                    raise TraceError(
                        self.path, f"not valid JSON ({err}); expected one object per line", number
                    ) from None
                if not isinstance(row, dict):
                    raise TraceError(self.path, f"a JSON {type(row).__name__}; expected an object", number)
                for column in columns:
                    value = row.get(column)
                    if isinstance(value, dict | list):
                        raise TraceError(
                            self.path, f"a JSON {type(value).__name__}; expected a number or a string", number, column
                        )
                    if isinstance(value, bool) and column != "available":
                        raise TraceError(self.path, f"{value} is not a number or a name", number, column)
                    values[column].append(value)
                record += 1
        arrays = {}
        for column, column_values in values.items():
            if all(value is None for value in column_values):
                continue
            kinds = {type(value) for value in column_values if value is not None}
            if kinds <= {int, float} and kinds:
                arrays[column] = pa.array(column_values, pa.float64())
            elif kinds <= {bool}:
                arrays[column] = pa.array(column_values, pa.bool_())
            else:  # text, or a mix: as text, for the column's own check to sort out
                arrays[column] = pa.array(
                    [None if v is None else str(int(v)) if isinstance(v, bool) else str(v) for v in column_values],
                    pa.string(),
                )
        return pa.table(arrays) if arrays else pa.table({"_": pa.nulls(record)}).drop(["_"])


def _order(at_s: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    if len(at_s) < 2 or bool(np.all(at_s[1:] >= at_s[:-1])):
        return np.arange(len(at_s))
    return np.argsort(at_s, kind="stable")


def _more(count: int) -> str:
    return "" if count == 0 else f" (and {count} more row{'s' if count > 1 else ''} like it)"


def _show(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else repr(value)


def _numbers(source: _Source, table: pa.Table, column: str) -> npt.NDArray[np.float64]:
    """A numeric column as float64; empty is NaN where the column may be empty, else an error."""
    if column not in table.column_names:
        return np.full(table.num_rows, np.nan)
    values = table.column(column)
    kind = values.type
    if pa.types.is_null(kind):
        values = pa.nulls(len(values), pa.float64())
    elif pa.types.is_string(kind):
        try:
            values = pc.cast(values, pa.float64())
        except pa.ArrowInvalid:
            bad = _first_uncastable(values.combine_chunks(), pa.float64())
            raise source.error(bad, column, f"{values[bad].as_py()!r} is not a number", _EXPECT[column]) from None
    elif not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        first = int(np.flatnonzero(values.is_valid().to_numpy(zero_copy_only=False))[0])
        raise source.error(first, column, f"{values[first].as_py()!r} is not a number", _EXPECT[column])
    out = np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    if column not in _NULLABLE and values.null_count:
        source.check(values.is_null().to_numpy(zero_copy_only=False), column, lambda _: source.empty)
    if column in _NULLABLE:  # NaN written out means empty; infinities are errors
        source.check(np.isinf(out), column, lambda i: f"{out[i]} is not a finite number")
    else:
        source.check(~np.isfinite(out), column, lambda i: f"{out[i]} is not a finite number")
    return out


def _times(source: _Source, table: pa.Table) -> npt.NDArray[np.float64]:
    at_s = _numbers(source, table, "at_s")
    source.check(at_s < 0, "at_s", lambda i: f"{_show(at_s[i])} is negative")
    return at_s


def _first_uncastable(values: pa.Array, to: pa.DataType) -> int:
    """The index of the first value that does not convert: bisection, each half converted whole."""
    low, high = 0, len(values)  # the first failure is within [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            pc.cast(values.slice(low, middle - low), to)
        except pa.ArrowInvalid:
            high = middle
        else:
            low = middle
    return low


def _names(source: _Source, table: pa.Table, column: str) -> tuple[npt.NDArray[np.int32], tuple[str, ...]]:
    """A categorical column as indices into the sorted tuple of its distinct names."""
    values = table.column(column)
    if pa.types.is_null(values.type):
        values = pa.nulls(len(values), pa.string())
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    if values.null_count:
        source.check(values.is_null().to_numpy(zero_copy_only=False), column, lambda _: source.empty)
    encoded = pc.dictionary_encode(values.combine_chunks())
    found: list[str] = encoded.dictionary.to_pylist()
    names = tuple(sorted(found))
    rank = {name: i for i, name in enumerate(names)}
    remap = np.array([rank[name] for name in found], dtype=np.int32)
    indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.intp)
    return remap[indices] if len(found) else np.zeros(len(indices), np.int32), names


def _levels(source: _Source, table: pa.Table, levels: tuple[str, ...]) -> npt.NDArray[np.int8]:
    """Level indices from indices or names (any case)."""
    expected = f"a level index 0..{len(levels) - 1} or one of {', '.join(levels)}"
    codes, names = _names(source, table, "level")
    lookup = {name.lower(): i for i, name in enumerate(levels)}
    lookup.update({str(i): i for i in range(len(levels))})
    mapped = np.array([lookup.get(name.lower(), -1) for name in names], dtype=np.int8)
    level = mapped[codes] if len(names) else np.zeros(len(codes), np.int8)
    if (level < 0).any():
        rows = np.flatnonzero(level < 0)
        name = names[codes[rows[0]]]
        problem = f"{name!r} is not a level" if not name.lstrip("-").isdigit() else f"{name} is out of range"
        raise source.error(int(rows[0]), "level", problem + _more(len(rows) - 1), expected)
    return level


def _flags(source: _Source, table: pa.Table, column: str) -> npt.NDArray[np.int8]:
    """`available`: 1, 0 or empty (-1); true/false and yes/no are read as 1/0."""
    if column not in table.column_names:
        return np.full(table.num_rows, -1, np.int8)
    codes, names = _names_nullable(table.column(column))
    mapped = np.array([1 if n.lower() in _TRUE else 0 if n.lower() in _FALSE else -2 for n in names], np.int8)
    flags = np.where(codes < 0, np.int8(-1), mapped[np.maximum(codes, 0)] if len(names) else np.int8(-1))
    flags = flags.astype(np.int8)
    source.check(flags == -2, column, lambda i: f"{names[codes[i]]!r} is not 1 or 0")
    return flags


def _names_nullable(values: pa.ChunkedArray) -> tuple[npt.NDArray[np.intp], list[str]]:
    """Distinct values of a text column and each row's index into them (-1: empty)."""
    if pa.types.is_null(values.type):
        return np.full(len(values), -1, np.intp), []
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    encoded = pc.dictionary_encode(values.combine_chunks())
    indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return np.asarray(indices, dtype=np.intp), encoded.dictionary.to_pylist()


# ---------------------------------------------------------------------------------------------------- writing


def write_arrivals(path: PathLike, arrivals: Arrivals, levels: Sequence[str] = LEVEL_NAMES) -> None:
    """Write arrivals as CSV or JSON Lines (by the file name); levels by name where `levels` names them."""
    n = len(arrivals)
    columns = (arrivals.job_type, arrivals.level, arrivals.tenant, arrivals.work_s, arrivals.deadline_s)
    if any(len(column) != n for column in columns):
        raise ValueError("arrivals: every column must have one value per job")
    _check_indices(arrivals.job_type, len(arrivals.types), "job_type", "types")
    _check_indices(arrivals.tenant, len(arrivals.tenants), "tenant", "tenants")
    _check_names(arrivals.types, "types")
    _check_names(arrivals.tenants, "tenants")
    named = n == 0 or (int(arrivals.level.min()) >= 0 and int(arrivals.level.max()) < len(levels))
    level_names = tuple(levels) if named else tuple(str(i) for i in range(int(arrivals.level.max()) + 1))
    _check_indices(arrivals.level, len(level_names), "level", "levels")
    fields = {
        "at_s": _float_column(arrivals.at_s),
        "type": _name_column(arrivals.job_type, arrivals.types),
        "level": _name_column(arrivals.level, level_names),
        "tenant": _name_column(arrivals.tenant, arrivals.tenants),
        "work_s": _float_column(arrivals.work_s),
        "deadline_s": _float_column(arrivals.deadline_s),
    }
    _write(path, fields, json_text={"type", "level", "tenant"} if named else {"type", "tenant"})


def write_market(path: PathLike, market: Market) -> None:
    """Write market rows as CSV or JSON Lines (by the file name)."""
    n = len(market)
    if any(len(c) != n for c in (market.node_type, market.price, market.available, market.reclaim)):
        raise ValueError("market: every column must have one value per row")
    _check_indices(market.node_type, len(market.node_types), "node_type", "node_types")
    available = market.available.astype(np.float64)
    available[market.available < 0] = np.nan
    fields = {
        "at_s": _float_column(market.at_s),
        "node_type": _name_column(market.node_type, tuple(t.name for t in market.node_types)),
        "price": _float_column(market.price),
        "available": pc.cast(_float_column(available), pa.int8()),
        "reclaim": _float_column(market.reclaim),
    }
    _write(path, fields, json_text={"node_type"})


def write_node_types(path: PathLike, node_types: Sequence[NodeType]) -> None:
    """Write node types as JSON (a list of objects) or TOML (`[[node_types]]` tables), by the file name."""
    rows = [asdict(t) for t in node_types]
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        Path(path).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    elif suffix == ".toml":
        text = "".join(
            "[[node_types]]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in row.items()) + "\n"
            for row in rows
        )
        Path(path).write_text(text, encoding="utf-8")
    else:
        raise ValueError(f"{path}: unknown file type; expected a name ending in .json or .toml")


def write_trace(
    trace: Trace, arrivals_path: PathLike, market_path: PathLike, node_types_path: PathLike | None = None
) -> None:
    """Write a trace's arrivals and market (and, if a path is given, its node types)."""
    write_arrivals(arrivals_path, trace.arrivals)
    write_market(market_path, trace.market)
    if node_types_path is not None:
        write_node_types(node_types_path, trace.market.node_types)


def _check_names(names: tuple[str, ...], what: str) -> None:
    if any(not name or name != name.strip() for name in names):
        raise ValueError(f"{what}: a name may not be empty or start or end with a space (reading trims values)")


def _check_indices(indices: npt.NDArray[Any], count: int, column: str, names: str) -> None:
    if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= count):
        raise ValueError(f"{column}: indices must be within 0..{count - 1}, one per entry of {names}")


def _float_column(values: npt.NDArray[np.float64]) -> pa.Array:
    return pa.array(values, pa.float64(), mask=np.isnan(values))


def _name_column(indices: npt.NDArray[Any], names: tuple[str, ...]) -> pa.Array:
    return pa.array(names, pa.string()).take(pa.array(indices))


def _write(path: PathLike, fields: dict[str, pa.Array], json_text: set[str]) -> None:
    fmt = _format(path)
    with _sink(path) as sink:
        if fmt == "csv":
            pcsv.write_csv(pa.table(fields), sink, pcsv.WriteOptions(quoting_style="needed"))
        else:
            _write_jsonl(sink, fields, json_text)


@contextmanager
def _sink(path: PathLike) -> Iterator[Any]:
    if str(path).lower().endswith(".gz"):
        # gzip level 3: a fraction of the default level's time, for a file a few percent larger
        with gzip.open(path, "wb", compresslevel=3) as compressed:
            yield compressed
    else:
        with pa.OSFile(str(path), "wb") as plain:
            yield plain


def _write_jsonl(sink: Any, fields: dict[str, pa.Array], json_text: set[str]) -> None:
    """One JSON object per row, built column-wise by arrow: numbers as arrow prints them (the shortest text
    that reads back to the same float), names JSON-escaped once per distinct name, empty as null."""
    parts: list[Any] = []
    for key, values in fields.items():
        parts.append(("{" if not parts else ",") + json.dumps(key) + ":")
        if key in json_text:
            encoded = pc.dictionary_encode(values)
            escaped = pa.array([json.dumps(name) for name in encoded.dictionary.to_pylist()], pa.string())
            text = escaped.take(encoded.indices)
        else:
            text = pc.cast(values, pa.string())
        parts.append(pc.fill_null(text, "null"))
    parts.append("}\n")
    chunk = 250_000
    length = len(next(iter(fields.values())))
    for start in range(0, length, chunk):
        pieces = [p.slice(start, chunk) if isinstance(p, pa.Array) else p for p in parts]
        lines = pc.binary_join_element_wise(*pieces, "")
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
        sink.write(lines.buffers()[2][int(offsets[0]) : int(offsets[-1])])


__all__ = [
    "ARRIVAL_COLUMNS",
    "LEVEL_NAMES",
    "MARGIN_S",
    "MARKET_COLUMNS",
    "TraceError",
    "read_arrivals",
    "read_market",
    "read_node_types",
    "read_trace",
    "write_arrivals",
    "write_market",
    "write_node_types",
    "write_trace",
]
