"""Reading traces: arrivals, market and node type files into the simulator's arrays, and a whole `Trace`
from them."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
from pydantic import TypeAdapter, ValidationError

from autoscaler.fleet import NodeType, check_node_types
from autoscaler.simulate.model import Arrivals, Market, Trace
from autoscaler.simulate.trace_columns import (
    checked_flags,
    checked_levels,
    checked_names,
    checked_numbers,
    checked_times,
    show_number,
    time_order,
)
from autoscaler.simulate.trace_format import (
    ARRIVAL_COLUMNS,
    LEVEL_NAMES,
    MARKET_COLUMNS,
    PathLike,
    TraceError,
    load_small_file,
)
from autoscaler.simulate.trace_source import TraceSource
from autoscaler.simulate.trace_window import window
from dispatcher.markets import Market as MarketKind

__all__ = [
    "MARGIN_S",
    "read_arrivals",
    "read_market",
    "read_node_types",
    "read_trace",
]

MARGIN_S = 3600.0  # read_trace's default duration: the last event plus this, so the last jobs can run


def read_arrivals(path: PathLike, levels: Sequence[str] = LEVEL_NAMES) -> Arrivals:
    """Job arrivals from a CSV or JSON Lines file, sorted by `at_s` (ties keep their file order).

    `level` is an index (0 = the top level) or a level name from `levels`; job types and tenants become
    indices into the sorted tuples of the names found."""
    source = TraceSource(path)
    table = source.table(ARRIVAL_COLUMNS)
    at_s = checked_times(source, table)
    work_s = checked_numbers(source, table, "work_s")
    source.check(work_s < 0, "work_s", lambda i: f"{show_number(work_s[i])} is negative")
    deadline_s = checked_numbers(source, table, "deadline_s")
    source.check(
        deadline_s < at_s,
        "deadline_s",
        lambda i: f"{show_number(deadline_s[i])} is before the arrival at {show_number(at_s[i])}",
    )
    job_type, types = checked_names(source, table, "type")
    tenant, tenants = checked_names(source, table, "tenant")
    level = checked_levels(source, table, tuple(levels))
    order = time_order(at_s)
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
    node_types = check_node_types(node_types)
    source = TraceSource(path)
    table = source.table(MARKET_COLUMNS)
    at_s = checked_times(source, table)
    codes, names = checked_names(source, table, "node_type")
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
    price = checked_numbers(source, table, "price")
    source.check(price < 0, "price", lambda i: f"{show_number(price[i])} is negative")
    available = checked_flags(source, table, "available")
    reclaim = np.nan_to_num(checked_numbers(source, table, "reclaim"), nan=0.0)
    source.check((reclaim < 0) | (reclaim > 1), "reclaim", lambda i: f"{show_number(reclaim[i])} is not within 0..1")
    order = time_order(at_s)
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
    data = load_small_file(path)
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
        return check_node_types(node_types)
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
    start_s: float | None = None,
) -> Trace:
    """A trace from an arrivals file and a market file (None: no market rows, so spot is always available
    at its on-demand price). `node_types` is the simulated fleet's types or a file to read them from.
    `duration_s` defaults to the last arrival or market change plus `MARGIN_S`; `start_epoch_s` is the
    calendar time (Unix seconds, UTC) of the files' t = 0.

    With `start_s`, the trace is the files' `window(trace, start_s, duration_s)`: the span from `start_s` for
    `duration_s` (None: to the last event plus `MARGIN_S`), shifted to start at 0, with every node type's market
    state as of `start_s` and `start_epoch_s` moved by `start_s`."""
    types = read_node_types(node_types) if isinstance(node_types, str | os.PathLike) else tuple(node_types)
    arrivals = read_arrivals(arrivals_path, levels)
    market = read_market(market_path, types) if market_path is not None else _empty_market(types)
    if start_s is not None:
        return window(_trace(arrivals, market, None, start_epoch_s), start_s, duration_s)
    return _trace(arrivals, market, duration_s, start_epoch_s)


def _trace(arrivals: Arrivals, market: Market, duration_s: float | None, start_epoch_s: float) -> Trace:
    if duration_s is None:
        last = max(arrivals.at_s[-1] if len(arrivals) else 0.0, market.at_s[-1] if len(market) else 0.0)
        duration_s = float(last) + MARGIN_S
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a number > 0, got {duration_s}")
    return Trace(arrivals=arrivals, market=market, duration_s=float(duration_s), start_epoch_s=start_epoch_s)


_NODE_TYPES: TypeAdapter[tuple[NodeType, ...]] = TypeAdapter(tuple[NodeType, ...])


def _empty_market(node_types: tuple[NodeType, ...]) -> Market:
    return Market(
        at_s=np.zeros(0, np.float64),
        node_type=np.zeros(0, np.int32),
        price=np.zeros(0, np.float64),
        available=np.zeros(0, np.int8),
        reclaim=np.zeros(0, np.float64),
        node_types=node_types,
    )
