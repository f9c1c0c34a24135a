"""The columns of a trace file's table as checked NumPy arrays (numbers, times, names, levels, flags), each
bad value raised as a `TraceError` at its line and column; and the order that sorts records by time."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from autoscaler.simulate.trace_format import EXPECTED_VALUES, NULLABLE_COLUMNS
from autoscaler.simulate.trace_source import TraceSource, more_rows_note

__all__ = [
    "checked_flags",
    "checked_levels",
    "checked_names",
    "checked_numbers",
    "checked_times",
    "show_number",
    "time_order",
]

_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no"}


def time_order(at_s: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    if len(at_s) < 2 or bool(np.all(at_s[1:] >= at_s[:-1])):
        return np.arange(len(at_s))
    return np.argsort(at_s, kind="stable")


def show_number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else repr(value)


def checked_numbers(source: TraceSource, table: pa.Table, column: str) -> npt.NDArray[np.float64]:
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
            raise source.error(
                bad, column, f"{values[bad].as_py()!r} is not a number", EXPECTED_VALUES[column]
            ) from None
    elif not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        first = int(np.flatnonzero(values.is_valid().to_numpy(zero_copy_only=False))[0])
        raise source.error(first, column, f"{values[first].as_py()!r} is not a number", EXPECTED_VALUES[column])
    out = np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    if column not in NULLABLE_COLUMNS and values.null_count:
        source.check(values.is_null().to_numpy(zero_copy_only=False), column, lambda _: source.empty)
    if column in NULLABLE_COLUMNS:  # NaN written out means empty; infinities are errors
        source.check(np.isinf(out), column, lambda i: f"{out[i]} is not a finite number")
    else:
        source.check(~np.isfinite(out), column, lambda i: f"{out[i]} is not a finite number")
    return out


def checked_times(source: TraceSource, table: pa.Table) -> npt.NDArray[np.float64]:
    at_s = checked_numbers(source, table, "at_s")
    source.check(at_s < 0, "at_s", lambda i: f"{show_number(at_s[i])} is negative")
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


def checked_names(source: TraceSource, table: pa.Table, column: str) -> tuple[npt.NDArray[np.int32], tuple[str, ...]]:
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


def checked_levels(source: TraceSource, table: pa.Table, levels: tuple[str, ...]) -> npt.NDArray[np.int8]:
    """Level indices from indices or names (any case)."""
    expected = f"a level index 0..{len(levels) - 1} or one of {', '.join(levels)}"
    codes, names = checked_names(source, table, "level")
    lookup = {name.lower(): i for i, name in enumerate(levels)}
    lookup.update({str(i): i for i in range(len(levels))})
    mapped = np.array([lookup.get(name.lower(), -1) for name in names], dtype=np.int8)
    level = mapped[codes] if len(names) else np.zeros(len(codes), np.int8)
    if (level < 0).any():
        rows = np.flatnonzero(level < 0)
        name = names[codes[rows[0]]]
        problem = f"{name!r} is not a level" if not name.lstrip("-").isdigit() else f"{name} is out of range"
        raise source.error(int(rows[0]), "level", problem + more_rows_note(len(rows) - 1), expected)
    return level


def checked_flags(source: TraceSource, table: pa.Table, column: str) -> npt.NDArray[np.int8]:
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
