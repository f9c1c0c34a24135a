"""The decision log rotated by size and read backwards: rotation at the size, a bounded number of files, readers
that see the newest decisions in order across the rotation boundary, and a torn last line skipped."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.decision_log import DecisionLog
from autoscaler.log_files import rotate, rotated
from autoscaler.reverse_lines import lines_backwards, newest_lines
from ebbflow.logged_decisions import decisions_after, recent_decisions

MAX_BYTES = 1000


def record(at: int) -> dict[str, object]:
    return {"at": float(at), "acted": False, "hold": None, "reasons": [f"decision {at:04d}"]}


def line_bytes(at: int) -> int:
    return len(json.dumps(record(at)) + "\n")


def files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != f"{path.name}.lock")


def ats(path: Path, backups: int) -> list[float]:
    """Every `at` in the log's files, from the oldest file kept to the current one."""
    found = []
    for index in range(backups, -1, -1):
        found += [json.loads(line)["at"] for line in rotated(path, index).read_text().splitlines()]
    return found


def test_the_log_rotates_when_the_next_line_would_pass_the_size(tmp_path: Path) -> None:
    # given a log of 1,000 bytes a file, and lines of one size (every `at` of four digits)
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path, max_bytes=MAX_BYTES, backups=3)
    size = line_bytes(1000)
    fit = MAX_BYTES // size
    # when the lines that fit are appended, then there is one file
    for at in range(1000, 1000 + fit):
        log.append(record(at))
    assert files(path) == ["decisions.jsonl"] and path.stat().st_size == fit * size
    # and when one more comes, the full file becomes .1 and the line starts a new one
    log.append(record(1000 + fit))
    assert files(path) == ["decisions.jsonl", "decisions.jsonl.1"]
    assert [json.loads(line)["at"] for line in path.read_text().splitlines()] == [1000 + fit]
    assert (tmp_path / "decisions.jsonl.1").stat().st_size == fit * size <= MAX_BYTES


def test_the_files_kept_are_bounded_and_the_oldest_go(tmp_path: Path) -> None:
    # given a log keeping 3 rotated files, written far past them
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path, max_bytes=MAX_BYTES, backups=3)
    for at in range(1000):
        log.append(record(at))
    # then 4 files are kept, none past the size, and they hold the newest decisions without a gap
    assert files(path) == ["decisions.jsonl", "decisions.jsonl.1", "decisions.jsonl.2", "decisions.jsonl.3"]
    assert all((tmp_path / name).stat().st_size <= MAX_BYTES for name in files(path))
    kept = ats(path, 3)
    assert kept == list(range(1000 - len(kept), 1000)) and len(kept) > 3 * (MAX_BYTES // line_bytes(999))
    # and when fewer are kept from now on, the next rotation deletes the ones beyond
    smaller = DecisionLog(path, max_bytes=MAX_BYTES, backups=1)
    for at in range(1000, 1100):
        smaller.append(record(at))
    assert files(path) == ["decisions.jsonl", "decisions.jsonl.1"]


def test_readers_see_the_newest_decisions_in_order_across_the_rotation_boundary(tmp_path: Path) -> None:
    # given decisions spread over the current file and two rotated ones
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path, max_bytes=MAX_BYTES, backups=5)
    for at in range(40):
        log.append(record(at))
    in_current = len(path.read_text().splitlines())
    assert 0 < in_current < 20 and (tmp_path / "decisions.jsonl.2").exists()
    # then the last 20 come back oldest first, from .2 or .1 and the current file, as do all 40
    assert [r["at"] for r in DecisionLog(path).tail(20)] == list(range(20, 40))
    assert [r["at"] for r in DecisionLog(path).tail(1000)] == list(range(40))
    decisions = recent_decisions(path, in_current + 1)
    assert not isinstance(decisions, str) and [d.at for d in decisions] == list(range(39 - in_current, 40))
    # and a scrape that has seen up to 30 reads 31 to 39 (and no further), however they are split
    after = decisions_after(path, 30.0, 1000)
    assert not isinstance(after, str) and [d.at for d in after] == list(range(31, 40))
    # and with nothing new since, it reads only the last decision (its gauges)
    last = decisions_after(path, 39.0, 1000)
    assert not isinstance(last, str) and [d.at for d in last] == [39]


def test_a_rotation_while_reading_neither_repeats_nor_skips_a_line(tmp_path: Path) -> None:
    # given a reader that has read the whole current file
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path, max_bytes=MAX_BYTES, backups=5)
    for at in range(30):
        log.append(record(at))
    in_current = len(path.read_text().splitlines())
    reader = newest_lines(path)
    first = [json.loads(next(reader))["at"] for _ in range(in_current)]
    # when the writer rotates it to .1 (and .1 to .2) before the reader goes on
    rotate(path, 5)
    log.append(record(30))
    # then the reader goes on with the lines before those it read, each once
    rest = [json.loads(line)["at"] for line in reader]
    assert first + rest == list(range(29, -1, -1))


def test_a_torn_last_line_is_skipped_and_the_next_one_starts_on_its_own(tmp_path: Path) -> None:
    # given a writer that stopped mid-line (it is mid-append, or it crashed)
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path)
    log.append(record(1))
    log.append(record(2))
    with path.open("a") as file:
        file.write(json.dumps(record(3))[:25])
    # then readers see the whole lines only, and no error
    assert [r["at"] for r in log.tail(10)] == [1, 2]
    decisions = recent_decisions(path, 10)
    assert not isinstance(decisions, str) and [d.at for d in decisions] == [1, 2]
    # and when the writer appends again, its line is whole: only the torn one is lost
    log.append(record(4))
    assert [r["at"] for r in log.tail(10)] == [1, 2, 4]


def test_garbled_lines_are_skipped_and_a_missing_log_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    assert DecisionLog(path).tail(5) == [] and recent_decisions(path, 5) == []
    path.write_bytes(b'{"at": 1}\n\xff\xfe not json\n[1, 2]\n\n{"at": 2}\n')
    assert DecisionLog(path).tail(5) == [{"at": 1}, {"at": 2}]


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\n", b"x")), max_size=30),
    torn=st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"x")),
    block=st.integers(min_value=1, max_value=64),
)
def test_reading_backwards_in_blocks_gives_the_whole_lines_last_first(
    lines: list[bytes], torn: bytes, block: int
) -> None:
    # given whole lines, then maybe an unfinished one, read in blocks of any size
    data = b"".join(line + b"\n" for line in lines) + torn
    # then the whole lines come back, last first, and the unfinished one never
    assert list(lines_backwards(io.BytesIO(data), len(data), block)) == lines[::-1]


WRITER = """
import sys
from autoscaler.decision_log import DecisionLog
log = DecisionLog(sys.argv[1], max_bytes=65536, backups=1000)
for i in range(int(sys.argv[3])):
    log.append({"at": float(i), "writer": sys.argv[2], "pad": "x" * 200})
"""


def test_two_writers_at_once_rotate_each_file_once_and_lose_no_line(tmp_path: Path) -> None:
    # given two processes appending to one log at once, each past several rotations
    path = tmp_path / "decisions.jsonl"
    count = 1500
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(count)], cwd=Path.cwd())
        for name in ("a", "b")
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    # then every line of each is there, whole and once, in its writer's order, and no file is past the size
    records = DecisionLog(path).tail(10 * count)
    for name in ("a", "b"):
        assert [r["at"] for r in records if r["writer"] == name] == list(range(count))
    assert len(files(path)) > 3 and all((tmp_path / n).stat().st_size <= 65536 for n in files(path))
