"""One trace file being read (`TraceSource`): its table of the known columns, from CSV or JSON Lines, and the
errors that point at the line and column of a bad value."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson

from autoscaler.simulate.trace_format import (
    EXPECTED_VALUES,
    NULLABLE_COLUMNS,
    PathLike,
    TraceError,
    file_format,
    open_text,
)

__all__ = [
    "Bools",
    "TraceSource",
    "more_rows_note",
]

Bools = npt.NDArray[np.bool_]


class TraceSource:
    """One file being read: its table, and the errors that point into it by line."""

    def __init__(self, path: PathLike) -> None:
        self.path = path
        self.format = file_format(path)
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
        more = more_rows_note(len(rows) - 1)
        raise self.error(int(rows[0]), column, problem(int(rows[0])) + more, EXPECTED_VALUES.get(column))

    def line(self, record: int) -> int:
        """The 1-based line on which a record (0-based, in file order) starts: the file is read again, which
        only an error needs. Blank lines are skipped, as the readers skip them."""
        with open_text(self.path) as handle:
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
            if column not in table.column_names and column not in NULLABLE_COLUMNS:
                raise TraceError(
                    self.path,
                    f"no column {column!r}; expected the columns {', '.join(columns)} "
                    f"({', '.join(c for c in columns if c in NULLABLE_COLUMNS)} may be left out)",
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
        with open_text(self.path) as handle:
            for row in csv.reader(handle):
                if row:
                    return row
        raise TraceError(self.path, "the file is empty; expected a header row naming the columns")

    def _csv_problem(self, width: int, err: Exception) -> TraceError:
        """The row arrow could not parse, found by reading the file again with Python's csv module."""
        with open_text(self.path) as handle:
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
        with open_text(self.path) as handle:
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


def more_rows_note(count: int) -> str:
    return "" if count == 0 else f" (and {count} more row{'s' if count > 1 else ''} like it)"
