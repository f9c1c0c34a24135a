"""The benchmark scripts still run end to end (tiny sizes); their figures live in docs/benchmarks.md, not here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_queue_throughput_prints_every_figure_and_the_targets() -> None:
    # given a tiny scale / when the benchmark runs with its peers / then every row and target is printed
    out = run("bench/queue_throughput.py", "--scale", "0.005")
    for needle in ("raw Lua floor", "ebbflow Redis, one at a time", "ebbflow SQLite", "redis-benchmark",
                   "Huey drain", "RQ drain", "Redis CPU", "memory per queued job", "Targets"):  # fmt: skip
        assert needle in out


def test_priority_latency_leases_the_urgent_job_first() -> None:
    # the script raises (non-zero exit) if any urgent job was not the one leased
    out = run("bench/priority_latency.py", "--backlog", "3000", "--tries", "20", "--tenants", "10")
    assert "behind 3,000 background jobs" in out


def test_dispatch_throughput_prints_both_rates_and_the_urgent_latency() -> None:
    out = run("bench/dispatch_throughput.py", "--jobs", "2000", "--tasks", "200", "--rounds", "1", "--urgent", "3")
    for needle in ("ebbflow end to end, jobs/s", "raw Ray no-op tasks/s", "ratio ebbflow / raw Ray", "urgent"):
        assert needle in out


def test_autoscaler_loop_prints_its_time_beside_the_floor() -> None:
    out = run("bench/autoscaler_loop.py", "--nodes", "500", "--types", "10", "--runs", "5")
    for needle in ("decide + guard", "floor: count nodes", "ratio"):
        assert needle in out


def test_fleet_sim_prints_the_comparison_and_every_target(tmp_path) -> None:
    chart, data = str(tmp_path / "sim-{market}-{seed}.png"), tmp_path / "sim.json"
    out = run(
        "bench/fleet_sim.py",
        "--jobs",
        "60000",
        "--seeds",
        "7",
        "--markets",
        "harsh",
        "--chart",
        chart,
        "--json",
        str(data),
    )
    needles = (
        "offline lower bound",
        "cost / lower bound",
        "target tracking",
        "simulate a week",
        "on-demand autoscaled",
    )
    for needle in (*needles, "uniform progress", "where the money went", "spot floor", "every run"):
        assert needle in out
    assert (tmp_path / "sim-harsh-7.png").exists()
    [week] = json.loads(data.read_text())
    assert week["trace"]["market"] == "harsh" and week["policies"][0]["name"] == "ours"


def test_stale_videos_prints_ebbflow_beside_the_plain_loops() -> None:
    # the script raises if ebbflow did not check every URL or marked other than the world's dead links
    out = run("bench/stale_videos.py", "--urls", "600", "--rounds", "1", "--batch", "200")
    for needle in ("plain aiohttp loop (ceiling)", "plain httpx loop", "ebbflow stale-videos", "checked 600 of 600"):
        assert needle in out


def test_social_graph_prints_both_indexes_the_ceiling_and_the_new_user() -> None:
    out = run("bench/social_graph.py", "--users", "3")
    for needle in ("sqlite", "mysql", "ceiling: the same calls", "new user, 500 friends", "HTTP calls for the 3 users"):
        assert needle in out


def test_dedupe_prints_every_mode_beside_the_sadd_ceiling() -> None:
    # the script raises if a crawl did not claim exactly --videos, or claimed a video twice
    out = run("bench/dedupe.py", "--videos", "20000", "--sample", "3000", "--probes", "20000")
    for needle in ("redis-set", "redis-bloom 0.1%", "redis-bloom 1%", "sqlite table", "ceiling: pipelined SADD"):
        assert needle in out
    assert "false pos." in out


def test_hot_topics_map_prints_ebbflow_beside_duckdb_and_the_scaling() -> None:
    out = run("bench/hot_topics_map.py", "--places", "4", "--rounds", "1", "--workers", "1,2")
    for needle in ("ebbflow (pyarrow.compute", "DuckDB SQL, threads=1", "all places in one query", "ratio", "2 worker"):
        assert needle in out
    assert "places agreeing with the peer: 4 of 4" in out


def test_hot_topics_hour_runs_an_hour_on_ray_beside_the_plain_loop() -> None:
    out = run("bench/hot_topics_hour.py", "--places", "3")
    for needle in ("submit -> reduce done", "jobs done after their deadline", "plain loop", "ratio"):
        assert needle in out


def test_hot_topics_ranking_prints_precision_beside_each_signal_alone() -> None:
    out = run("bench/hot_topics_ranking.py", "--hours", "2", "--places", "3")
    for needle in ("PRIOR 20 (ebbflow)", "tweets' links alone", "search alone", "mean precision@10", "ratio"):
        assert needle in out


def test_related_crawl_prints_each_backend_beside_the_plain_loop() -> None:
    out = run("bench/related_crawl.py", "--videos", "60", "--depth", "3", "--backends", "sqlite,redis-bloom")
    for needle in ("plain loop", "crawl state on sqlite", "crawl state on redis-bloom", "videos/s"):
        assert needle in out


def test_decision_log_read_prints_both_reads_beside_the_whole_file_read() -> None:
    out = run("bench/decision_log_read.py", "--lines", "2000", "--runs", "2")
    for needle in ("whole file (before)", "from the end (now)", "status: last 50", "/metrics scrape", "just rotated"):
        assert needle in out
