"""Trace files: write -> read gives the same arrays in every format; bad input names file, line and column."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from autoscaler.fleet import NodeType
from autoscaler.simulate.generate import default_node_types, generate_week
from autoscaler.simulate.model import Arrivals, Market
from autoscaler.simulate.traces import (
    MARGIN_S,
    TraceError,
    read_arrivals,
    read_market,
    read_node_types,
    read_trace,
    write_arrivals,
    write_market,
    write_node_types,
    write_trace,
)
from dispatcher.markets import Market as MarketKind

SUFFIXES = ["csv", "jsonl", "csv.gz", "jsonl.gz"]
ARRIVAL_FIELDS = ("at_s", "job_type", "level", "tenant", "work_s", "deadline_s")
MARKET_FIELDS = ("at_s", "node_type", "price", "available", "reclaim")
NODE_TYPES = default_node_types()
HEADER = "at_s,type,level,tenant,work_s,deadline_s\n"
JOB = '{"at_s": 1, "type": "t", "level": 0, "tenant": "a", "work_s": 5}\n'


def assert_same(a: object, b: object, fields: tuple[str, ...]) -> None:
    for name in fields:
        left, right = getattr(a, name), getattr(b, name)
        assert left.dtype == right.dtype, name
        np.testing.assert_array_equal(left, right, err_msg=name)  # NaN equals NaN here


def small_arrivals() -> Arrivals:
    # Names that need quoting or escaping; every name used, tuples sorted, as a reader returns them.
    return Arrivals(
        at_s=np.array([0.0, 0.1, 0.1, 59.999, 3600.0, 1e6 + 1 / 3]),
        job_type=np.array([0, 1, 2, 0, 1, 2], np.int32),
        level=np.array([0, 1, 2, 3, 3, 1], np.int8),
        tenant=np.array([3, 2, 1, 0, 0, 3], np.int32),
        work_s=np.array([5.0, 0.0, 1e-7, 123456.789, 0.30000000000000004, 60.0]),
        deadline_s=np.array([60.0, np.nan, 3600.1, np.nan, 3600.0, 1e6 + 1]),
        types=("a,b", 'quote "q"', "ünï"),
        tenants=("Zed", "acme", "t 1", "tenant\\x"),
    )


def small_market() -> Market:
    return Market(
        at_s=np.array([0.0, 0.0, 300.0, 600.0, 600.0]),
        node_type=np.array([0, 1, 0, 4, 0], np.int32),
        price=np.array([0.0641, 0.057, np.nan, 0.3, 0.0642]),
        available=np.array([1, 1, 0, -1, -1], np.int8),
        reclaim=np.array([0.0, 0.0, 0.5, 0.0, 1.0]),
        node_types=NODE_TYPES,
    )


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_arrivals_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"arrivals.{suffix}"
    original = small_arrivals()
    write_arrivals(path, original)
    back = read_arrivals(path)
    assert_same(back, original, ARRIVAL_FIELDS)
    assert (back.types, back.tenants) == (original.types, original.tenants)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_market_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"spot.{suffix}"
    original = small_market()
    write_market(path, original)
    back = read_market(path, NODE_TYPES)
    assert_same(back, original, MARKET_FIELDS)
    assert back.node_types == NODE_TYPES


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_generated_week_round_trip(tmp_path: Path, suffix: str) -> None:
    week = generate_week(seed=3, jobs=100_000)  # too few for the daily level's own jobs: the wave fills it
    paths = (tmp_path / f"a.{suffix}", tmp_path / f"s.{suffix}", tmp_path / "types.toml")
    write_trace(week, *paths)
    back = read_trace(*paths, duration_s=week.duration_s, start_epoch_s=week.start_epoch_s)
    assert_same(back.arrivals, week.arrivals, ARRIVAL_FIELDS)
    assert_same(back.market, week.market, MARKET_FIELDS)
    assert back.arrivals.types == week.arrivals.types
    assert back.arrivals.tenants == week.arrivals.tenants
    assert back.market.node_types == week.market.node_types
    assert (back.duration_s, back.start_epoch_s) == (week.duration_s, week.start_epoch_s)


def test_written_files_look_as_documented(tmp_path: Path) -> None:
    write_arrivals(tmp_path / "a.csv", small_arrivals())
    write_arrivals(tmp_path / "a.jsonl", small_arrivals())
    write_market(tmp_path / "s.csv", small_market())
    lines = (tmp_path / "a.csv").read_text().splitlines()
    assert lines[0] == '"at_s","type","level","tenant","work_s","deadline_s"'
    assert lines[1] == '0,"a,b","urgent","tenant\\x",5,60'
    assert lines[2] == '0.1,"quote ""q""","daily","t 1",0,'
    first = json.loads((tmp_path / "a.jsonl").read_text().splitlines()[1])
    assert first == {
        "at_s": 0.1,
        "type": 'quote "q"',
        "level": "daily",
        "tenant": "t 1",
        "work_s": 0,
        "deadline_s": None,
    }
    assert (tmp_path / "s.csv").read_text().splitlines()[3] == '300,"spot-m5xl-a",,0,0.5'


def test_reading_sorts_by_time_keeping_ties_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "5,x,0,b,1,\n1,y,1,a,2,\n5,z,2,c,3,\n\n0,x,3,a,4,100\n")
    arrivals = read_arrivals(path)
    np.testing.assert_array_equal(arrivals.at_s, [0, 1, 5, 5])
    np.testing.assert_array_equal(arrivals.work_s, [4, 2, 1, 3])
    assert arrivals.types == ("x", "y", "z") and arrivals.tenants == ("a", "b", "c")
    np.testing.assert_array_equal(arrivals.job_type, [0, 1, 0, 2])
    np.testing.assert_array_equal(arrivals.tenant, [0, 0, 1, 2])
    np.testing.assert_array_equal(arrivals.deadline_s, [100, np.nan, np.nan, np.nan])


def test_levels_by_index_or_name_and_lenient_spacing(tmp_path: Path) -> None:
    csv_path = tmp_path / "a.csv"
    csv_path.write_text("at_s, type, level, tenant, work_s, deadline_s\n1, t, Urgent, 007, 5, \n2, t, 3, 007, 5, NaN\n")
    arrivals = read_arrivals(csv_path)
    np.testing.assert_array_equal(arrivals.level, [0, 3])
    assert arrivals.tenants == ("007",)  # names stay text, leading zeros and all
    json_path = tmp_path / "a.jsonl"  # mixed kinds in one column, numbers as names, keys left out
    json_path.write_text(
        '{"at_s": 1, "type": "t", "level": "weekly", "tenant": 7, "work_s": 5}\n'
        '{"at_s": 2, "type": "t", "level": 1, "tenant": "x", "work_s": 5, "deadline_s": 9, "extra": [1]}\n'
    )
    arrivals = read_arrivals(json_path)
    np.testing.assert_array_equal(arrivals.level, [2, 1])
    assert arrivals.tenants == ("7", "x")
    np.testing.assert_array_equal(arrivals.deadline_s, [np.nan, 9])


def test_custom_level_names(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "1,t,cold,a,5,\n2,t,0,a,5,\n")
    np.testing.assert_array_equal(read_arrivals(path, levels=("hot", "cold")).level, [1, 0])
    with pytest.raises(TraceError, match=r"'cold' is not a level; expected a level index 0\.\.3 or one of urgent,"):
        read_arrivals(path)
    path.write_text(HEADER + "1,t,2,a,5,\n")
    with pytest.raises(TraceError, match=r"2 is out of range; expected a level index 0\.\.1 or one of hot, cold"):
        read_arrivals(path, levels=("hot", "cold"))


ARRIVAL_ERRORS = [
    # (file name, text, line, column, what the message says)
    ("a.csv", "at_s,type,level,tenant,deadline_s\n1,t,0,a,\n", None, None, "no column 'work_s'"),
    ("a.jsonl", '{"at_s": 1, "type": "t", "level": 0, "tenant": "a"}\n', None, None, "no column 'work_s'"),
    ("a.csv", HEADER + "1,t,0,a,5,\n\n2,t,0,a,abc,\n", 4, "work_s", "'abc' is not a number; expected seconds"),
    ("a.csv", HEADER + "1,t,0,a,5,\n2,t,0,a,-5,\n3,t,0,a,-1,\n", 3, "work_s", "-5 is negative (and 1 more row"),
    ("a.csv", HEADER + "10,t,0,a,5,9.5\n", 2, "deadline_s", "9.5 is before the arrival at 10"),
    ("a.csv", HEADER + "10,t,urgnet,a,5,\n", 2, "level", "'urgnet' is not a level; expected a level index 0..3 or"),
    ("a.csv", HEADER + "10,t,4,a,5,\n", 2, "level", "4 is out of range"),
    ("a.csv", HEADER + ",t,0,a,5,\n", 2, "at_s", "empty; expected seconds since the trace start"),
    ("a.csv", HEADER + "-1,t,0,a,5,\n", 2, "at_s", "-1 is negative"),
    ("a.csv", HEADER + "inf,t,0,a,5,\n", 2, "at_s", "inf is not a finite number"),
    ("a.csv", HEADER + "1,,0,a,5,\n", 2, "type", "empty; expected a job type name"),
    ("a.csv", HEADER + '1,"multi\nline",0,a,5,\n2,t,0,a,x,\n', 4, "work_s", "'x' is not a number"),
    ("a.csv", HEADER + "1,t,0,a,5,\n2,t,0,a,5,,9\n", 3, None, "7 values; expected 6"),
    ("a.csv", "", None, None, "the file is empty; expected a header row"),
    (
        "a.jsonl",
        '{"at_s": 1, "type": "t", "level": 0, "tenant": "a", "work_s": 5}\n\n{"at_s": 2, "typ',
        3,
        None,
        "JSON",
    ),
    ("a.jsonl", '{"at_s": "x", "type": "t", "level": 0, "tenant": "a", "work_s": 5}\n', 1, "at_s", "'x' is not a num"),
    ("a.jsonl", '{"at_s": 1, "type": "t", "level": 0, "tenant": "a", "work_s": 5}\n[1]\n', 2, None, "expected an obj"),
    ("a.jsonl", '{"at_s": 1, "type": "t", "level": 0, "work_s": 5}\n' * 2 + "\n" * 3, None, None, "no column 'tenant'"),
    (
        "a.jsonl",
        JOB + '{"at_s": 1, "type": "t", "level": 0, "work_s": 5}\n',
        2,
        "tenant",
        "missing or null; expected a tenant name",
    ),
    (
        "a.jsonl",
        JOB + '{"at_s": 2, "type": "t", "level": 0, "tenant": "a", "work_s": 5, "deadline_s": 1}\n',
        2,
        "deadline_s",
        "1 is before the arrival at 2",
    ),
    ("a.txt", HEADER, None, None, "unknown file type; expected a name ending in .csv or .jsonl"),
]


@pytest.mark.parametrize(("name", "text", "line", "column", "says"), ARRIVAL_ERRORS)
def test_bad_arrivals_name_file_line_and_column(
    tmp_path: Path, name: str, text: str, line: int | None, column: str | None, says: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TraceError) as caught:
        read_arrivals(path)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.path, error.line, error.column) == (str(path), line, column)
    assert says in str(error)
    assert str(error).startswith(
        str(path) + (f", line {line}" if line else "") + (f", column {column!r}" if column else "")
    )


def test_an_error_deep_in_a_gzipped_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.csv.gz"
    rows = [f"{i},t,daily,a,5,\n" for i in range(50_000)]
    rows[41_234] = "41234,t,daily,a,5,41000\n"
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER + "".join(rows))
    with pytest.raises(TraceError, match=r"a\.csv\.gz, line 41236, column 'deadline_s': 41000 is before the arrival"):
        read_arrivals(path)


MARKET_ERRORS = [
    ("s.csv", "at_s,price\n0,0.06\n", None, None, "no column 'node_type'"),
    ("s.csv", "at_s,node_type,price\n0,spot-m5xl-z,0.06\n", 2, "node_type", "unknown node type 'spot-m5xl-z'"),
    ("s.csv", "at_s,node_type,price\n0,od-m5xl-a,0.06\n", 2, "node_type", "'od-m5xl-a' is an on-demand type"),
    ("s.csv", "at_s,node_type,price\n0,spot-m5xl-a,-1\n", 2, "price", "-1 is negative; expected the spot price"),
    ("s.csv", "at_s,node_type,price\n0,spot-m5xl-a,cheap\n", 2, "price", "'cheap' is not a number"),
    ("s.csv", "at_s,node_type,available\n0,spot-m5xl-a,2\n", 2, "available", "'2' is not 1 or 0; expected 1 (spot"),
    ("s.csv", "at_s,node_type,reclaim\n0,spot-m5xl-a,1.5\n", 2, "reclaim", "1.5 is not within 0..1"),
    ("s.jsonl", '{"at_s": 0, "node_type": "x"}\n', 1, "node_type", "expected one of the spot types: spot-m5xl-a, "),
]


@pytest.mark.parametrize(("name", "text", "line", "column", "says"), MARKET_ERRORS)
def test_bad_market_rows_name_file_line_and_column(
    tmp_path: Path, name: str, text: str, line: int | None, column: str | None, says: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TraceError) as caught:
        read_market(path, NODE_TYPES)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert says in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_market_columns_that_may_be_empty_may_be_left_out(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("at_s,node_type,price\n0,spot-m5xl-a,0.06\n3600,spot-m5xl-a,\n")
    market = read_market(path, NODE_TYPES)
    np.testing.assert_array_equal(market.price, [0.06, np.nan])
    np.testing.assert_array_equal(market.available, [-1, -1])
    np.testing.assert_array_equal(market.reclaim, [0, 0])
    json_path = tmp_path / "s.jsonl"
    json_path.write_text(
        '{"at_s": 0, "node_type": "spot-c5xl-b", "available": false}\n'
        '{"at_s": 5, "node_type": "spot-c5xl-b", "available": true, "reclaim": 0.25}\n'
    )
    market = read_market(json_path, NODE_TYPES)
    np.testing.assert_array_equal(market.node_type, [4, 4])
    np.testing.assert_array_equal(market.available, [0, 1])
    np.testing.assert_array_equal(market.reclaim, [0, 0.25])


@pytest.mark.parametrize("suffix", ["json", "toml"])
def test_node_types_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"types.{suffix}"
    write_node_types(path, NODE_TYPES)
    assert read_node_types(path) == NODE_TYPES


def test_node_types_from_an_ebbflow_toml(tmp_path: Path) -> None:
    path = tmp_path / "ebbflow.toml"
    path.write_text(
        '[autoscaler]\nenabled = true\n[[autoscaler.node_types]]\nname = "spot-a"\nmarket = "spot"\n'
        'instance_type = "m5.xlarge"\nzone = "us-east-1a"\nslots = 4\nondemand_price = 0.192\n'
    )
    assert read_node_types(path) == (NodeType("spot-a", MarketKind.SPOT, "m5.xlarge", "us-east-1a", 4, 0.192),)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[]", "no node types"),
        (
            '[{"name": "a", "market": "spot", "instance_type": "m", "zone": "z", "slots": "four"}]',
            "node_types[0].slots",
        ),
        (
            '[{"name": "a", "market": "spot", "instance_type": "m", "zone": "z", "slots": 4}]',
            "ondemand_price: Field required",
        ),
        (
            '[{"name": "a", "market": "spot", "instance_type": "m", "zone": "z", "slots": 0, "ondemand_price": 1}]',
            "slots must be >= 1",
        ),
        ("{", "not valid JSON"),
    ],
)
def test_bad_node_types_file(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "types.json"
    path.write_text(text)
    with pytest.raises(TraceError, match=r"types\.json: ") as caught:
        read_node_types(path)
    assert says in str(caught.value)


def test_read_trace_defaults(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(HEADER + "7200,t,0,a,5,\n10,t,0,a,5,\n")
    (tmp_path / "s.csv").write_text("at_s,node_type,price\n9000,spot-m5xl-a,0.06\n")
    write_node_types(tmp_path / "types.json", NODE_TYPES)
    trace = read_trace(tmp_path / "a.csv", tmp_path / "s.csv", tmp_path / "types.json")
    assert trace.duration_s == 9000 + MARGIN_S
    assert trace.start_epoch_s == 0.0
    assert trace.market.node_types == NODE_TYPES
    no_market = read_trace(tmp_path / "a.csv", None, NODE_TYPES)
    assert len(no_market.market) == 0 and no_market.duration_s == 7200 + MARGIN_S
    with pytest.raises(ValueError, match="duration_s"):
        read_trace(tmp_path / "a.csv", None, NODE_TYPES, duration_s=0)


def test_header_only_files_are_empty_traces(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(HEADER)
    (tmp_path / "s.csv").write_text("at_s,node_type,price,available,reclaim\n")
    trace = read_trace(tmp_path / "a.csv", tmp_path / "s.csv", NODE_TYPES)
    assert len(trace.arrivals) == 0 and len(trace.market) == 0
    assert trace.arrivals.level.dtype == np.int8 and trace.market.node_type.dtype == np.int32


def test_writing_rejects_indices_without_names(tmp_path: Path) -> None:
    arrivals = small_arrivals()
    broken = replace(arrivals, tenant=arrivals.tenant + 1)
    with pytest.raises(ValueError, match=r"tenant: indices must be within 0\.\.3"):
        write_arrivals(tmp_path / "a.csv", broken)
    for bad in ("", " b"):
        with pytest.raises(ValueError, match="types: a name may not be empty or start or end with a space"):
            write_arrivals(tmp_path / "a.csv", replace(arrivals, types=(bad, "c", "d")))
