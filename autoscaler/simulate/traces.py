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

This module is the public entry point and holds no code of its own; it re-exports from:
`trace_format` (columns, file types, `TraceError`), `trace_source` (one file being read, and errors by line),
`trace_columns` (a table's columns as checked arrays), `trace_reading` (the readers), `trace_writing`
(the writers) and `trace_window` (`window`, a span of a trace as a trace of its own, which `read_trace` applies
when given `start_s`).
"""

from __future__ import annotations

from autoscaler.simulate.trace_format import ARRIVAL_COLUMNS, LEVEL_NAMES, MARKET_COLUMNS, TraceError
from autoscaler.simulate.trace_reading import MARGIN_S, read_arrivals, read_market, read_node_types, read_trace
from autoscaler.simulate.trace_window import window
from autoscaler.simulate.trace_writing import write_arrivals, write_market, write_node_types, write_trace

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
    "window",
    "write_arrivals",
    "write_market",
    "write_node_types",
    "write_trace",
]
