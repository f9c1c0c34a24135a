"""`ebbflow queue-demo` end to end on the embedded store, and the installed `ebbflow` console script."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ebbflow.local_worker import RunRecord
from ebbflow.queue_demo import level_summaries, serve_order
from tests.ebbflow.conftest import pending_total

LEVELS = ["urgent", "daily", "weekly", "background"]


def test_demo_runs_end_to_end(cli, configured_store):
    out = cli.ok("queue-demo", "--jobs", "40", "--tenants", "3", "--seed", "7").stdout
    assert "queued 40 jobs; 4 repeated idempotency keys returned the existing job" in out
    refusals = [line for line in out.splitlines() if line.startswith("refused as expected: payload")]
    assert len(refusals) == 3
    assert "40/40" in out  # the progress bar's last state
    assert "dead letters: 0" in out
    # every level's jobs are reported, and they were served strictly top level first
    served = re.search(r"serve order, lease by lease: (.*)", out)
    assert served is not None
    names = [part.split(" ×")[0] for part in served[1].split(" → ")]
    assert names == sorted(names, key=LEVELS.index) and names[0] == "urgent"
    assert sum(int(part.split("×")[1]) for part in served[1].split(" → ")) == 40
    assert pending_total(configured_store()) == 0


def test_a_second_demo_reports_only_its_own_jobs(cli):
    cli.ok("submit", "noop", "--tenant", "earlier")
    out = cli.ok("queue-demo", "--jobs", "10", "--seed", "1").stdout
    assert "the worker also ran 1 jobs that were queued before the demo" in out
    assert "dead letters: 0" in out


def record(job_id: str, level: int, outcome: str = "done", wait_ms: int = 10) -> RunRecord:
    return RunRecord(job_id, "noop", "t", level, wait_ms, 1.0, outcome)  # type: ignore[arg-type]


def test_serve_order_is_runs_of_levels():
    records = [record("a", 0), record("b", 0), record("c", 2), record("d", 0)]
    assert serve_order(records) == [(0, 2), (2, 1), (0, 1)]


def test_level_summaries_count_only_the_demos_finished_jobs():
    records = [record("a", 0, wait_ms=4), record("b", 0, wait_ms=100), record("c", 1, "retry"), record("x", 1)]
    (summary,) = level_summaries(records, frozenset({"a", "b", "c"}))
    assert (summary.level, summary.done) == (0, 2)
    assert summary.wait.p50_ms == 4
    assert summary.wait.p99_ms is not None and 90 <= summary.wait.p99_ms <= 110


def ebbflow_script() -> str:
    script = Path(sys.executable).parent / "ebbflow"
    found = str(script) if script.exists() else shutil.which("ebbflow")
    if found is None:
        pytest.fail("the `ebbflow` console script is not installed: run `.venv/bin/pip install -e .`")
    return found


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    # The workdir fixture's environment (EBBFLOW_SQLITE__PATH in tmp_path) is inherited by the child.
    return subprocess.run([ebbflow_script(), *args], capture_output=True, text=True, timeout=60, check=False)


def test_the_console_script_runs(workdir):
    first = run_script("submit", "noop", "--tenant", "t")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("created")
    bad = run_script("submit", "noop", "--tenant", "t", "--class", "vip")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: class: 'vip' is not a configured class")
    assert bad.stdout == ""
