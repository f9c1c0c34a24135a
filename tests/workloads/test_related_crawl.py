"""The related-crawl pack end to end through the CLI against the emulator, with the world's related links as the
oracle: breadth first, each video once, stopped at its depth and videos caps with a summary in `ebbflow status`;
re-runs of a fetch; on SQLite and on Redis with a Bloom filter."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from workloads.context import PackContext
from workloads.crawl_state import CrawlCaps, open_crawl_state
from workloads.emulator.watch_render import MAX_PAGE_BYTES, MIN_PAGE_BYTES
from workloads.index import open_index
from workloads.related_crawl import PACK, RelatedCrawlParams
from workloads.related_crawl.pack import run_fetch
from workloads.resources import Resources
from workloads.settings import PacksSettings
from workloads.world import World, WorldConfig

WORLD = World(WorldConfig())
SEEDS = [WORLD.video_id(i) for i in (10, 20_000)]


def bfs(seeds: list[str], max_depth: int) -> dict[str, int]:
    """Every video within max_depth related-link hops of the seeds (dead videos list no related ones), and its
    depth: what a breadth-first crawl without a videos cap must claim."""
    depth = {video: 0 for video in seeds}
    frontier = list(seeds)
    for level in range(1, max_depth + 1):
        found: list[str] = []
        for video in frontier:
            page = WORLD.video(video)
            for child in page.related if page is not None and page.status == "alive" else ():
                if child not in depth:
                    depth[child] = level
                    found.append(child)
        frontier = found
    return depth


def fetch_runs(store) -> int:
    return sum(bucket.finished for bucket in store.history(0) if bucket.type == "related-crawl.fetch")


def crawl(cli, *params: str) -> str:
    args = [arg for param in params for arg in ("--param", param)]
    return cli.ok("pack", "submit", "related-crawl", "--param", f"seeds={','.join(SEEDS)}", *args).stdout


def test_a_crawl_covers_the_depth_ball_once_and_stops_at_the_depth_cap(cli, pack_env: Path, configured_store):
    # when a crawl to depth 2 runs (the in-process worker takes jobs in order: strictly breadth first)
    assert "planned 2 jobs (class batch)" in crawl(cli, "max_depth=2", "name=ball")
    cli.ok("work", "--idle-exit")
    # then it claimed exactly the videos within two hops, each at its breadth-first depth, and crawled each once
    truth = bfs(SEEDS, 2)
    state = open_crawl_state(f"sqlite:///{pack_env / 'rankings.db'}")
    summary = state.summary("ball")
    assert summary is not None and summary.finished_ms is not None
    per_depth = {d.depth: (d.claimed, d.done) for d in summary.depths}
    for level in range(3):
        count = sum(depth == level for depth in truth.values())
        assert per_depth[level] == (count, count)
    assert summary.stop_reason == "max_depth" and summary.cut_by_depth > 0
    stats = configured_store().stats()
    assert stats.settled and stats.dead == 0
    # and the index holds every crawled live video with its title, and the links between them
    index = open_index(f"sqlite:///{pack_env / 'index.db'}")
    stored = index.get(list(truth))
    alive = [video for video in truth if WORLD.video(video).status == "alive"]
    assert all(stored[video].title == WORLD.video(video).title for video in alive)
    assert index.related(SEEDS[0]) == list(WORLD.video(SEEDS[0]).related)
    index.close()
    state.close()
    # and `ebbflow status` shows the crawl's progress per depth and why it stopped
    shown = " ".join(cli.ok("status").stdout.split())
    assert "ball" in shown and "done: max_depth" in shown
    assert f"d2 {per_depth[2][1]}/{per_depth[2][0]}" in shown


def test_the_pack_talks_to_pages_as_heavy_as_real_ones(live_emulator):
    # the emulator the crawl runs against lists related videos only in the page's embedded data, as the site does
    body = httpx.get(f"{live_emulator.base_url}/watch", params={"v": SEEDS[0]}).content
    assert MIN_PAGE_BYTES <= len(body) <= MAX_PAGE_BYTES
    assert b'href="/watch?v=' not in body and b'"secondaryResults":' in body


def test_the_videos_cap_stops_the_frontier(cli, pack_env: Path, configured_store):
    crawl(cli, "max_depth=10", "max_videos=40", "name=capped")
    cli.ok("work", "--idle-exit")
    state = open_crawl_state(f"sqlite:///{pack_env / 'rankings.db'}")
    summary = state.summary("capped")
    state.close()
    assert summary is not None and summary.claimed == summary.done == 40
    assert summary.stop_reason == "max_videos" and summary.cut_by_cap > 0
    assert fetch_runs(configured_store()) == 40  # one fetch per claimed video: nothing beyond the cap was queued


def test_a_dry_run_claims_nothing_and_bad_seeds_are_named(cli, pack_env: Path):
    out = cli.ok("pack", "submit", "related-crawl", "--param", f"seeds={SEEDS[0]}", "--param", "name=dry", "--dry-run")
    assert "would queue 1 jobs" in out.stdout
    state = open_crawl_state(f"sqlite:///{pack_env / 'rankings.db'}")
    assert state.crawls() == []
    state.close()
    for param, needle in (("seeds=not-a-video-id", "--param seeds"), (f"seeds={SEEDS[0]},{SEEDS[0]}", "repeat"),
                          ("max_depth=-1", "max_depth")):  # fmt: skip
        seeds = [] if param.startswith("seeds=") else ["--param", f"seeds={SEEDS[0]}"]
        result = cli("pack", "submit", "related-crawl", "--param", param, *seeds)
        assert result.exit_code == 2 and needle in result.output, result.output


class RecordingRun:
    """A RunContext for calling the fetch directly; it records what the job queued."""

    checkpoint = None

    def __init__(self, scheduler) -> None:
        self.job = None
        self._scheduler = scheduler

    def save_checkpoint(self, value): ...
    def report_progress(self, value): ...
    def stop_requested(self):
        return False

    def scheduler(self):
        return self._scheduler


@pytest.fixture
def fetch_context(tmp_path: Path, live_emulator, workdir: Path) -> Iterator[PackContext]:
    from ebbflow.config import Settings, SQLiteSettings
    from ebbflow.stores import open_scheduler

    packs = PacksSettings(
        emulator=live_emulator.base_url,
        index=f"sqlite:///{tmp_path / 'index.db'}",
        rankings=f"sqlite:///{tmp_path / 'rankings.db'}",
    )
    scheduler = open_scheduler(Settings(sqlite=SQLiteSettings(path=str(tmp_path / "queue.db")), packs=packs))
    run = RecordingRun(scheduler)
    run.job = scheduler.store.get(scheduler.submit("noop", None, tenant="t").job_id)  # any job: tenant and class
    resources = Resources(packs)
    yield PackContext(run, resources, "related-crawl")
    resources.close()
    scheduler.store.close()


def queued_fetches(store, levels: set[int]) -> set[tuple[str, int]]:
    """(video, seq) of every fetch waiting in the queue."""
    jobs = [store.get(waiting.job_id) for level in levels for waiting in store.waiting(level, 2**62, 10_000)]
    return {(job.payload["video"], job.payload["seq"]) for job in jobs if job.type == "related-crawl.fetch"}


def test_a_rerun_fetch_requeues_the_same_children_and_a_finished_one_does_nothing(fetch_context: PackContext):
    state = fetch_context.resources.crawl_state
    ((seed, seq),) = state.start("rerun", CrawlCaps(max_depth=3, max_videos=1000), SEEDS[:1], 1).claimed
    # given a first run that claimed its children, then died before it queued them
    first_claim = state.claim_children("rerun", seq, 1, list(WORLD.video(seed).related))
    assert first_claim.new
    # when the fetch runs again
    payload = {"crawl": "rerun", "video": seed, "seq": seq, "depth": 0}
    result = run_fetch(payload, fetch_context)
    # then it queued exactly the children the first run claimed, each with the seq it was claimed with, and the
    # seed is done
    store = fetch_context._run.scheduler().store
    pending = store.stats().pending
    assert result["queued"] == len(first_claim.new) and sum(pending.values()) >= len(first_claim.new)
    assert queued_fetches(store, {level for level, _ in pending}) == set(first_claim.claimed)
    assert state.is_done("rerun", seq)
    # and a third run (a duplicate delivery) changes nothing
    again = run_fetch(payload, fetch_context)
    assert again == {"video": seed, "skipped": "already crawled"}
    summary = state.summary("rerun")
    assert summary is not None and summary.depths[0].done == 1


@pytest.mark.parametrize("restriction", ["age-restricted", "region-blocked"])
def test_a_video_not_playable_to_everyone_is_crawled_like_any_live_one(fetch_context: PackContext, restriction: str):
    # given a crawl seeded with an age-gated (or region-blocked) video
    video = next(v for i in range(5000) if (v := WORLD.video(WORLD.video_id(i))) and v.restriction == restriction)
    state = fetch_context.resources.crawl_state
    ((seed, seq),) = state.start(restriction, CrawlCaps(max_depth=3, max_videos=1000), [video.video_id], 1).claimed
    # when its page is fetched
    result = run_fetch({"crawl": restriction, "video": seed, "seq": seq, "depth": 0}, fetch_context)
    # then it counts as alive: stored with its title, its related videos linked and queued
    assert result["alive"] and result["queued"] == len(video.related)
    assert fetch_context.resources.index.related(seed) == list(video.related)
    assert fetch_context.resources.index.get([seed])[seed].title == video.title


@pytest.fixture
def redis_rankings(pack_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    prefix = f"t-{uuid.uuid4().hex[:10]}:"
    monkeypatch.setenv("EBBFLOW_PACKS__RANKINGS", f"redis://127.0.0.1:6379/0?prefix={prefix}")
    yield prefix
    client = redis.Redis(host="127.0.0.1", port=6379, db=0)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def test_on_redis_with_a_bloom_filter_no_video_is_crawled_twice(cli, redis_rankings: str, configured_store):
    crawl(cli, "max_depth=2", "dedupe=bloom", "name=bloomy")
    cli.ok("work", "--idle-exit")
    state = open_crawl_state(f"redis://127.0.0.1:6379/0?prefix={redis_rankings}")
    summary = state.summary("bloomy")
    state.close()
    assert summary is not None and summary.finished_ms is not None and summary.caps.dedupe == "bloom"
    truth = bfs(SEEDS, 2)
    assert fetch_runs(configured_store()) == summary.claimed == summary.done  # each claimed video fetched once
    assert 0.99 * len(truth) <= summary.claimed <= len(truth)  # a false positive skips a video; at 0.1% hardly any


def test_the_spot_slot_cap_comes_from_the_pack_or_the_configuration():
    from workloads.binding import job_types
    from workloads.resources import ResourcesSource

    default = job_types(PACK, ResourcesSource.from_settings(PacksSettings()))
    assert default[0].max_spot_concurrency == 16 and default[0].markets == "spot"
    configured = PacksSettings(max_spot_slots={"related-crawl.fetch": 4})
    assert job_types(PACK, ResourcesSource.from_settings(configured))[0].max_spot_concurrency == 4
    assert RelatedCrawlParams(seeds=SEEDS).crawl_name() == RelatedCrawlParams(seeds=SEEDS[::-1]).crawl_name()
