"""The stale-videos pack end to end against the emulator's realistic pages: its dead links (404, 410, removed,
private, live recordings gone) are found, marked stale and taken out of every ranking, its age-gated and
region-blocked videos are not; a batch run twice changes nothing more."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from workloads.context import PackContext
from workloads.emulator import EmulatorServer, Limit, RateLimits
from workloads.emulator.watch_render import MAX_PAGE_BYTES, MIN_PAGE_BYTES
from workloads.index import CheckResult, VideoRecord, open_index
from workloads.rankings import open_rankings
from workloads.resources import Resources
from workloads.settings import PacksSettings
from workloads.sources.urls import watch_url
from workloads.stale_videos.checker import CheckLimits, check_urls
from workloads.stale_videos.pack import run_check
from workloads.world import World, WorldConfig

WORLD = World(WorldConfig())
IDS = [WORLD.video_id(i) for i in range(300)]
DEAD = {vid for vid in IDS if WORLD.video(vid).status != "alive"}
RESTRICTED = {vid for vid in IDS if WORLD.video(vid).restriction is not None}  # age-gated, region-blocked


def seed(folder: Path) -> None:
    index = open_index(f"sqlite:///{folder / 'index.db'}")
    index.upsert_videos([VideoRecord(vid, watch_url("https://www.youtube.com", vid), seen_ms=1) for vid in IDS])
    index.close()
    rankings = open_rankings(f"sqlite:///{folder / 'rankings.db'}")
    rankings.add("stream:42", {vid: float(n) for n, vid in enumerate(IDS[:150])})
    rankings.add("hot:23424977:0", {vid: float(n) for n, vid in enumerate(IDS[100:])})
    rankings.close()


def ranked(folder: Path) -> set[str]:
    rankings = open_rankings(f"sqlite:///{folder / 'rankings.db'}")
    members = {m for name in rankings.names() for m, _ in rankings.top(name, 1000)}
    rankings.close()
    return members


def test_dead_links_are_marked_stale_and_leave_every_ranking(cli, pack_env: Path):
    assert 10 < len(DEAD) < 60  # the world's share of dead links (8%) is in this sample
    assert RESTRICTED and not RESTRICTED & DEAD  # and live videos whose pages are not playable to everyone
    seed(pack_env)
    # when a sweep is planned (3 batches) and run
    out = cli.ok("pack", "submit", "stale-videos", "--param", "older_than_days=0", "--param", "batch_size=100").stdout
    assert "planned 3 jobs (class batch)" in out
    cli.ok("work", "--idle-exit")
    # then exactly the world's dead videos are stale, and no ranking holds one; the live ones stay ranked
    index = open_index(f"sqlite:///{pack_env / 'index.db'}")
    stored = index.get(IDS)
    assert {vid for vid, video in stored.items() if video.stale} == DEAD
    assert all(video.last_checked_ms is not None for video in stored.values())
    assert ranked(pack_env) == set(IDS) - DEAD
    reasons = {"404", "410", "unavailable page", "private", "recording not available"}
    assert {stored[vid].stale_reason for vid in DEAD} == reasons
    assert index.due_for_check(round(time.time() * 1000) - 1000, 10) == []
    index.close()


class StubRun:
    """A RunContext for calling the job function directly (what the worker would hand it)."""

    job = None
    checkpoint = None

    def save_checkpoint(self, value): ...
    def report_progress(self, value): ...
    def stop_requested(self):
        return False

    def scheduler(self):
        raise AssertionError("a check batch queues nothing")


@pytest.fixture
def pack_context(tmp_path: Path, live_emulator: EmulatorServer):
    seed(tmp_path)
    settings = PacksSettings(
        emulator=live_emulator.base_url,
        index=f"sqlite:///{tmp_path / 'index.db'}",
        rankings=f"sqlite:///{tmp_path / 'rankings.db'}",
    )
    resources = Resources(settings)
    yield PackContext(StubRun(), resources, "stale-videos")
    resources.close()


def batch(planned_ms: int) -> dict:
    return {
        "videos": ",".join(IDS[:150]),
        "planned_ms": planned_ms,
        "concurrency": 16,
        "per_host": 8,
        "per_host_rate": 0,
    }


def test_a_batch_run_twice_changes_nothing_more(pack_context: PackContext, tmp_path: Path):
    planned = round(time.time() * 1000)
    first = run_check(batch(planned), pack_context)
    before = pack_context.resources.index.get(IDS[:150])
    again = run_check(batch(planned), pack_context)
    assert first["checked"] == 150 and first["dead"] == len(DEAD & set(IDS[:150]))
    assert again == {"checked": 0, "dead": 0, "unknown": 0, "skipped": 150, "missing": 0, "removed_from_rankings": 0}
    assert pack_context.resources.index.get(IDS[:150]) == before


def test_a_batch_that_died_before_cleaning_the_rankings_finishes_on_its_rerun(pack_context: PackContext, tmp_path):
    # given a run that marked its dead videos stale, then died before removing them from the rankings
    planned = round(time.time() * 1000)
    dead = sorted(DEAD & set(IDS[:150]))
    pack_context.resources.index.record_checks([CheckResult(vid, planned + 1, "dead", "404") for vid in dead])
    assert set(dead) <= ranked(tmp_path)
    # when the batch runs again
    result = run_check(batch(planned), pack_context)
    # then the rankings lose them (stream:42 and hot:... both held some), the live ones are checked
    assert not set(dead) & ranked(tmp_path)
    assert result["removed_from_rankings"] >= len(dead) and result["checked"] == 150 - len(dead)


def test_the_pack_reads_pages_as_heavy_as_real_ones(live_emulator: EmulatorServer):
    alive = [vid for vid in IDS if vid not in DEAD][:5]
    sizes = [len(httpx.get(watch_url(live_emulator.base_url, vid)).content) for vid in alive]
    assert all(MIN_PAGE_BYTES <= size <= MAX_PAGE_BYTES for size in sizes)


def test_a_rate_limited_host_is_waited_for_not_marked(start_emulator_with_limits):
    # (the site's 429 page gives no Retry-After: the checker backs off by itself)
    server = start_emulator_with_limits(RateLimits(video=Limit(requests=25, window_s=1.0)))
    urls = {vid: watch_url(server.base_url, vid) for vid in IDS[:60]}
    started = time.monotonic()
    verdicts = check_urls(urls, CheckLimits(concurrency=16, per_host=16, attempts=5))
    # every URL got a real answer despite 429s, and the alive/dead split is the world's
    assert {vid for vid, v in verdicts.items() if v.verdict == "dead"} == DEAD & set(urls)
    assert all(v.verdict == "alive" for vid, v in verdicts.items() if vid not in DEAD)
    assert time.monotonic() - started >= 1.0  # 60 requests at 25 per second cannot be answered sooner


def test_the_per_host_rate_spaces_requests(live_emulator: EmulatorServer):
    urls = {vid: watch_url(live_emulator.base_url, vid) for vid in IDS[:50]}
    started = time.monotonic()
    verdicts = check_urls(urls, CheckLimits(concurrency=50, per_host=50, per_host_rate=40.0))
    assert all(v.verdict != "retry" for v in verdicts.values())
    assert time.monotonic() - started >= 0.2  # past the first second's bucket (40), ten more wait their turn


def test_the_scheduled_planner_queues_the_batches(cli, pack_env: Path, configured_store):
    seed(pack_env)
    payload = '{"older_than_days": 0, "batch_size": 120}'
    cli.ok("submit", "stale-videos.plan", "--tenant", "cron", "--payload", payload)
    cli.ok("work", "--idle-exit")
    index = open_index(f"sqlite:///{pack_env / 'index.db'}")
    assert index.count(stale=True) == len(DEAD)
    index.close()
    assert configured_store().stats().settled
