"""`ebbflow demo`: the whole system on one machine, run as a user runs it, checked in its stores afterwards;
and its parts (the mix, the cost meter, the live view) on their own."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from autoscaler.decide import Decision
from autoscaler.fleet import FleetNode
from dispatcher.cluster_base import process_table
from dispatcher.inflight import DispatchCounts
from dispatcher.markets import Market
from ebbflow.demo.fleet import DEMO_NODE_TYPES
from ebbflow.demo.mix import MixSize, timeline
from ebbflow.demo.report import CostMeter
from ebbflow.demo.setup import MARKER, demo_settings, prepare_workdir
from ebbflow.demo.view import LiveState, live_view
from ebbflow.stores import open_scheduler
from scheduler.errors import ConfigError
from scheduler.store import QueueStats
from tests.ebbflow.conftest import Cli
from workloads.hot_topics.hours import hour_start
from workloads.hot_topics.layout import ranking_name
from workloads.resources import Resources
from workloads.world import World

EBBFLOW = str(Path(sys.executable).with_name("ebbflow"))
SEED = 3
MINUTES = 0.5


# Set in the demo's environment, which every process it starts inherits (the emulator, Ray's GCS, raylets and
# workers, even those that leave its process tree by starting a session of their own), and no other process
# carries: a test run or cluster of someone else's on the same machine is never counted as the demo's.
RUN_TAG = "DEMO_TEST_RUN"  # not EBBFLOW_...: the demo reads those as its settings, and demo_env drops them


def demo_env(tag: str) -> dict[str, str]:
    """The demo's environment: ours without EBBFLOW_ settings (a developer's own must not reach it), plus its tag."""
    env = {name: value for name, value in os.environ.items() if not name.upper().startswith("EBBFLOW_")}
    return {**env, RUN_TAG: tag}


def tagged(tag: str) -> list[str]:
    """The processes still running whose environment carries `tag`: what the demo started and left behind."""
    needle = f"{RUN_TAG}={tag}".encode()
    left = []
    for pid, (_, argv) in process_table().items():
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                carried = needle in environ.read().split(b"\0")
        except OSError:  # exited meanwhile, or another user's
            continue
        if carried and pid != os.getpid():
            left.append(f"{pid}: {' '.join(argv)[:120]}")
    return left


def running(argv: list[str], pid: int) -> bool:
    """`pid` runs `argv` (it has exec'd: until then a child has its parent's argv and environment)."""
    return process_table().get(pid, (0, []))[1] == argv


def test_only_processes_carrying_the_run_tag_count_as_the_demos() -> None:
    tag = uuid.uuid4().hex
    sleep = [sys.executable, "-c", "import time; time.sleep(600)  # ray ebbflow"]
    stranger = subprocess.Popen(sleep, env=demo_env("another run"))  # what the old argv check counted
    mine = subprocess.Popen(sleep, env=demo_env(tag))
    try:
        deadline = time.monotonic() + 30
        while not (running(sleep, stranger.pid) and running(sleep, mine.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tagged(tag) == [f"{mine.pid}: {' '.join(sleep)[:120]}"]
    finally:
        for process in (stranger, mine):
            process.kill()
            process.wait()
    assert tagged(tag) == []


@pytest.mark.timeout(600)
def test_the_demo_runs_the_whole_mix_on_a_local_fleet_and_leaves_nothing_running(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    tag = uuid.uuid4().hex
    env = demo_env(tag)
    args = [EBBFLOW, "demo", "--minutes", str(MINUTES), "--seed", str(SEED), "--no-live", "--workdir", str(workdir)]
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540, check=False)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    # then nothing it started is left: the fleet's raylets and workers, the emulator
    assert tagged(tag) == []
    # and the summary says a spot node was reclaimed, its jobs ran again, and nothing was lost or dead
    assert "spot reclaims survived: 1 node(s) killed without notice" in out
    assert ", 0 lost; dead letters: 0" in out and "still queued at the end: 0" in out
    assert re.search(r"autoscaler launched [1-9]", out)
    chart = workdir / "queue-chart.png"
    assert f"queue-tracking chart: {chart}" in out.replace("\n", "")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # and the stores hold every job of the mix finished, and each pack's results
    size = MixSize().scaled(MINUTES)
    settings = demo_settings(workdir, "http://127.0.0.1:1")
    scheduler = open_scheduler(settings)
    try:
        stats = scheduler.store.stats()
        assert stats.settled and stats.dead == 0
        finished = Counter[str]()
        for bucket in scheduler.store.history(0):
            finished[bucket.type] += bucket.finished
        assert finished["social-graph.fetch"] == size.signups + size.refreshes
        assert finished["hot-topics.map"] == size.places and finished["hot-topics.reduce"] == 1
        assert finished["sleep"] == size.burst
        assert finished["stale-videos.check"] >= 1
    finally:
        scheduler.store.close()
    resources = Resources(settings.packs)
    try:
        (crawl,) = resources.crawl_state.crawls()
        summary = resources.crawl_state.summary(crawl)
        assert summary is not None and summary.finished_ms is not None and summary.done == size.crawl_max_videos
        arrivals = timeline(World(), size, MINUTES * 60, random.Random(SEED))
        woeids = next(a.params["woeids"] for a in arrivals if a.kind == "hot-topics").split(",")
        hours = {hour_start(summary.started_ms), hour_start(summary.started_ms) - 3_600_000}  # the run may cross
        for woeid in woeids:
            assert any(resources.rankings.top(ranking_name(woeid, hour), 1) for hour in hours), woeid
        world = World()
        stale = resources.index.count(stale=True)
        assert stale > 0 and resources.index.count() > size.catalogue
        checked = resources.index.get([world.video_id(500_000 + i) for i in range(size.catalogue)])
        dead_in_index = {v for v, stored in checked.items() if stored.stale}
        dead_in_world = {v for v in checked if (w := world.video(v)) is not None and w.status != "alive"}
        assert dead_in_index == dead_in_world  # the sweep found exactly the dead links of the catalogue
    finally:
        resources.close()


def test_the_mix_scales_with_the_minutes_and_repeats_with_the_seed() -> None:
    world, size = World(), MixSize().scaled(1.0)
    assert (size.burst, size.signups, size.places) == (2500, 10, 15)
    first = timeline(world, size, 60, random.Random(1))
    assert first == timeline(world, size, 60, random.Random(1))
    assert [a.at_s for a in first] == sorted(a.at_s for a in first)
    kinds = Counter(a.kind for a in first)
    assert kinds == {
        "signup": 10, "refresh": 30, "hot-topics": 1, "crawl": 1, "stale-sweep": 1, "burst": 1, "reclaim": 1
    }  # fmt: skip
    assert all(a.at_s <= 0.75 * 60 for a in first if a.kind in ("signup", "refresh"))
    assert all(world.degree(str(a.params["users"])) <= 600 for a in first if a.kind in ("signup", "refresh"))


def test_the_cost_meter_prices_billed_nodes_as_they_ran() -> None:
    meter = CostMeter({t.name: t for t in DEMO_NODE_TYPES})
    spot, ondemand = DEMO_NODE_TYPES[0], DEMO_NODE_TYPES[2]
    nodes = [
        FleetNode("a", spot.name, "running", 0.0),
        FleetNode("b", ondemand.name, "draining", 0.0),
        FleetNode("c", spot.name, "launching", 0.0),  # not billed yet
    ]
    meter.sample(nodes, {spot.name: 0.06}, 1000.0)
    meter.sample(nodes, {spot.name: 0.06}, 1000.0 + 1800)  # half an hour later
    assert meter.cost_usd == pytest.approx(0.5 * (0.06 + ondemand.ondemand_price))
    assert meter.ondemand_usd == pytest.approx(0.5 * (spot.ondemand_price + ondemand.ondemand_price))
    assert meter.node_s == {Market.SPOT: pytest.approx(1800), Market.ON_DEMAND: pytest.approx(1800)}
    assert meter.peak_nodes == {Market.SPOT: 1, Market.ON_DEMAND: 1}


def test_the_live_view_shows_levels_fleet_and_the_last_decision_with_why() -> None:
    stats = QueueStats(
        pending={(0, "a"): 2, (3, "sleep"): 4000}, running={(3, "sleep"): 6}, delayed=0, dead=0,
        oldest_enqueued_ms={0: 9_000, 3: 1_000},
    )  # fmt: skip
    decision = Decision({"spot-m5xl-a": 2}, reasons=("spot: 48.9 for the queue",), clamps=("max 1 per type",))
    state = LiveState(
        30, 120, stats, 10_000, ["urgent", "daily", "weekly", "background"],
        [FleetNode("n1", "spot-m5xl-a", "running", 0), FleetNode("n2", "spot-m5xl-a", "launching", 0)],
        DEMO_NODE_TYPES, {Market.SPOT: 2}, decision, 3.0, DispatchCounts(done=5, preempted=1),
        ["20.4s  burst: 5,000 jobs"], {"spot-m5xl-a": 0.061},
    )  # fmt: skip
    console = Console(record=True, width=160)
    console.print(live_view(state))
    text = console.export_text()
    assert "0:30 / 2:00" in text
    assert re.search(r"background\s+│\s+4,000\s+│\s+6\s+│\s+9.0 s", text)
    assert re.search(r"urgent\s+│\s+2\s+│\s+0\s+│\s+1.0 s", text)
    assert re.search(r"spot-m5xl-a\s+│\s+spot\s+│\s+1\s+│\s+1\s+│\s+0.061", text)
    assert "autoscaler (3 s ago): +2 spot-m5xl-a" in text
    assert "why: spot: 48.9 for the queue" in text and "why: max 1 per type" in text
    assert "preempted 1" in text and "burst: 5,000 jobs" in text


def test_the_workdir_is_emptied_only_when_an_earlier_demo_made_it(tmp_path: Path) -> None:
    made = prepare_workdir(tmp_path / "demo")
    (made / "queue.db").write_text("an earlier run")
    assert prepare_workdir(made) == made and sorted(p.name for p in made.iterdir()) == [MARKER]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigError, match=r"--workdir: .*mine is not empty and no earlier demo made it"):
        prepare_workdir(tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "years of work"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"--workdir: .*file is a file"):
        prepare_workdir(tmp_path / "file")


def test_a_bad_workdir_is_one_error_line_naming_the_option(cli: Cli, workdir: Path) -> None:
    (workdir / "notes").mkdir()
    (workdir / "notes" / "todo.txt").write_text("keep me")
    result = cli("demo", "--workdir", "notes")
    assert result.exit_code == 2
    assert result.output.startswith("error: --workdir:") and "no earlier demo made it" in result.output
    assert (workdir / "notes" / "todo.txt").exists()


@pytest.mark.timeout(300)
def test_ctrl_c_stops_the_demo_early_with_its_summary_and_nothing_lost_or_left_running(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    tag = uuid.uuid4().hex
    env = demo_env(tag)
    args = [EBBFLOW, "demo", "--minutes", "2", "--seed", str(SEED), "--no-live", "--workdir", str(workdir)]
    # its own process group, which a terminal's Ctrl-C signals as a whole (the emulator and Ray must survive it)
    demo = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert demo.stdout is not None
        lines = []
        for line in demo.stdout:
            lines.append(line)
            if "stale-video sweep of the catalogue" in line:  # well into the run: sign-ups and packs in flight
                break
        os.killpg(demo.pid, signal.SIGINT)
        out = "".join(lines) + demo.communicate(timeout=240)[0]
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, out
    assert re.search(r"ran 0:[0-5]\d", out), out  # it stopped early ...
    assert ", 0 lost; dead letters: 0" in out and "queue-tracking chart:" in out  # ... with its summary
    assert tagged(tag) == []
    # and every job it queued is finished or still queued: a drain gives unfinished ones back, never loses them
    scheduler = open_scheduler(demo_settings(workdir, "http://127.0.0.1:1"))
    try:
        stats = scheduler.store.stats()
        assert stats.dead == 0 and sum(stats.running.values()) == 0
        left = re.search(r"still queued at the end: ([\d,]+)", out)
        assert left is not None and int(left[1].replace(",", "")) == sum(stats.pending.values()) + stats.delayed
    finally:
        scheduler.store.close()
