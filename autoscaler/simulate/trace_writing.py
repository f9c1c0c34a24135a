"""Writing traces: arrivals and market rows as CSV or JSON Lines (optionally gzipped), node types as JSON or
TOML, each in the layout the readers take back."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from autoscaler.fleet import NodeType
from autoscaler.simulate.model import Arrivals, Market, Trace
from autoscaler.simulate.trace_format import LEVEL_NAMES, PathLike, file_format

__all__ = [
    "write_arrivals",
    "write_market",
    "write_node_types",
    "write_trace",
]


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
    # a field left unset (None) is left out: TOML has no null, and reading it back gives the default again
    rows = [{key: value for key, value in asdict(t).items() if value is not None} for t in node_types]
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
    fmt = file_format(path)
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
