"""`ebbflow status` beyond the queue: oldest waits against the autoscaler's targets, and what the autoscaler's
decision log (a real file, written through its own `entry()`) says about pools, the fleet and its decisions."""

from __future__ import annotations

import re
import time

import pytest

from ebbflow.render_fleet import NO_DECISIONS
from tests.ebbflow.decision_entries import CLAMP, DRAIN_REASON, FIRST_REASON, HOLD, LAST_REASON, history, write

LOG = ".ebbflow/autoscaler.jsonl"  # autoscaler.log_path's default, in the test's working directory


def table(out: str, title: str) -> list[list[str]]:
    """The body rows of the table titled `title`, as lists of stripped cells."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if title in line)
    header_rule = next(i for i in range(start, len(lines)) if lines[i].startswith("┡"))
    rows = []
    for line in lines[header_rule + 1 :]:
        if not line.startswith("│"):
            break
        rows.append([cell.strip() for cell in line.split("│")[1:-1]])
    return rows


def test_status_says_when_nothing_was_logged(cli):
    out = cli.ok("status").stdout
    assert NO_DECISIONS in out
    assert NO_DECISIONS == "autoscaler: no decisions logged yet (enable [autoscaler] and run `ebbflow head`)"
    assert "Oldest wait vs target" in out  # the targets are the policy's, logged or not


def test_status_shows_pools_fleet_and_the_last_five_decisions(cli, workdir):
    # given a decision log whose last entry saw 5 nodes, and six decisions a minute apart
    write(workdir / LOG, history(time.time()))
    # when / then
    out = cli.ok("status").stdout
    assert re.search(r"autoscaler: last decision 3\d\.\d s ago", out)
    assert "stale" not in out
    assert table(out, "In flight per pool") == [["on-demand", "1", "4", "2.0"], ["spot", "5", "8", "9.6"]]
    assert table(out, "Fleet per node type") == [
        ["od", "0", "1", "0"],
        ["spot-a", "0", "2", "1"],
        ["spot-b", "1", "0", "0"],
    ]
    assert re.search(r"Node type\s*┃\s*launching\s*┃\s*running\s*┃\s*draining", out)
    decisions = table(out, "Last autoscaler decisions (newest first)")
    assert [row[1:] for row in decisions] == [
        ["launch 1 x spot-b", LAST_REASON],
        ["drain 1", DRAIN_REASON],
        ["nothing", CLAMP],
        ["nothing", "on-demand: 1 nodes, 1 wanted (floor 1)"],
        ["hold", HOLD],
    ]
    assert [row[0][:3] for row in decisions[1:]] == ["1m ", "2m ", "3m ", "4m "]
    assert all(row[0].endswith(" ago") for row in decisions)
    assert FIRST_REASON not in out  # the sixth-newest decision is not shown


def test_a_last_decision_older_than_ten_minutes_is_stale(cli, workdir):
    write(workdir / LOG, history(time.time() - 3600)[-1:])
    out = cli.ok("status").stdout
    assert re.search(r"last decision 1h 00m ago\s+stale: nothing logged for over 10m 00s", out)
    assert table(out, "Fleet per node type")  # the figures are still shown, marked by the line above


def test_a_hold_that_saw_nothing_says_so_instead_of_an_empty_fleet(cli, workdir):
    now = time.time()
    write(workdir / LOG, [*history(now - 60), {"at": now - 5, "acted": False, "hold": HOLD}])
    out = cli.ok("status").stdout
    assert "fleet and slots: not observed in the last decision" in out
    assert "Fleet per node type" not in out
    assert table(out, "Last autoscaler decisions (newest first)")[0][1:] == ["hold", HOLD]


def test_a_log_with_a_torn_line_and_foreign_lines_still_reads(cli, workdir):
    # given a line cut short by a crash, a JSON line that is no decision, and a good one
    path = workdir / LOG
    write(path, [{"note": "not a decision"}, *history(time.time())[-1:]])
    with path.open("a") as file:
        file.write('{"at": 1, "launc')
    out = cli.ok("status").stdout
    assert "launch 1 x spot-b" in out


@pytest.fixture
def tight_targets(workdir):
    # urgent: a minute; every deeper level repeats the last horizon, 1 ms
    (workdir / "ebbflow.toml").write_text("[autoscaler]\nhorizons_s = [60.0, 0.001]\n")


def test_oldest_wait_over_its_target_is_marked_in_red(cli, tight_targets, monkeypatch):
    cli.ok("submit", "noop", "--tenant", "a", "--class", "new-signup")
    cli.ok("submit", "noop", "--tenant", "a", "--class", "batch")
    time.sleep(0.01)
    out = cli.ok("status").stdout
    rows = {row[0]: row[1:] for row in table(out, "Oldest wait vs target")}
    assert rows["urgent"][1:] == ["1m 00s", "ok"]
    assert rows["background"][1:] == ["1.0 ms", "over target"]
    assert rows["daily"] == ["-", "1.0 ms", "-"]  # nothing waits there
    # when the output is a colour terminal, then "over target" (and only it) is red
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    coloured = cli.ok("status").stdout
    assert re.search(r"\x1b\[[0-9;]*31m *over target", coloured)
    assert not re.search(r"\x1b\[[0-9;]*31m *ok", coloured)
