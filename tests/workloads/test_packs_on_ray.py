"""Both packs through the production path: the dispatcher ships the bound job types to Ray workers (separate
processes), which open the head's stores from the shipped settings and call the emulator."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from ebbflow.config import Settings, SQLiteSettings
from ebbflow.head import run_until_empty
from ebbflow.stores import open_scheduler
from workloads.context import PlanContext, submit_planned
from workloads.emulator import EmulatorServer
from workloads.index import VideoRecord, open_index
from workloads.rankings import open_rankings
from workloads.resources import Resources
from workloads.settings import PacksSettings
from workloads.social_graph import PACK as SOCIAL
from workloads.social_graph import SocialGraphParams
from workloads.social_graph.fetch import stream_name
from workloads.sources.urls import watch_url
from workloads.stale_videos import PACK as STALE
from workloads.stale_videos import StaleVideosParams
from workloads.world import World, WorldConfig

pytestmark = pytest.mark.slow
WORLD = World(WorldConfig())


def test_social_graph_and_stale_videos_jobs_run_on_ray_workers(workdir: Path, live_emulator: EmulatorServer):
    packs = PacksSettings(
        emulator=live_emulator.base_url,
        index=SecretStr("sqlite:///index.db"),  # relative: the workers must get it made absolute
        rankings=SecretStr("sqlite:///rankings.db"),
    )
    settings = Settings(sqlite=SQLiteSettings(path=str(workdir / "queue.db")), packs=packs)
    dead_sample = [WORLD.video_id(i) for i in range(200)]
    index = open_index(f"sqlite:///{workdir / 'index.db'}")
    index.upsert_videos([VideoRecord(vid, watch_url("https://www.youtube.com", vid)) for vid in dead_sample])
    # given two users' fetches and a stale sweep, planned and queued as `ebbflow pack submit` would
    scheduler = open_scheduler(settings)
    users = [WORLD.user_with_degree(40), WORLD.user_with_degree(90)]
    resources = Resources(settings.packs)
    plan = PlanContext.now(resources)
    jobs = SOCIAL.plan(SocialGraphParams(users=users, activity="new-signup"), plan)
    jobs += STALE.plan(StaleVideosParams(older_than_days=0, batch_size=100), plan)
    submit_planned(scheduler, jobs)
    # when the dispatcher runs them on a private local Ray until the queue is empty
    outcomes: list[str] = []
    run_until_empty(settings, scheduler, lambda lease, outcome, run_s: outcomes.append(outcome))
    # then every job is done, and their effects are in the stores the head configured
    assert outcomes == ["done"] * 4
    rankings = open_rankings(f"sqlite:///{workdir / 'rankings.db'}")
    for user in users:
        assert len(rankings.top(stream_name(user), 1000)) > 5
        assert index.cursor(user, "facebook") is not None
    dead = {vid for vid in dead_sample if WORLD.video(vid).status != "alive"}
    assert {vid for vid, video in index.get(dead_sample).items() if video.stale} == dead
    rankings.close()
    index.close()
    resources.close()
    scheduler.store.close()


def test_hot_topics_and_a_crawl_run_on_ray_workers(workdir: Path, live_emulator: EmulatorServer):
    from workloads.crawl_state import open_crawl_state
    from workloads.hot_topics import PACK as HOT
    from workloads.hot_topics import HotTopicsParams
    from workloads.hot_topics.hours import HOUR_MS, hour_start, label
    from workloads.related_crawl import PACK as CRAWL
    from workloads.related_crawl import RelatedCrawlParams

    packs = PacksSettings(
        emulator=live_emulator.base_url,
        index=SecretStr("sqlite:///index.db"),
        rankings=SecretStr("sqlite:///rankings.db"),
        archive="archive",  # relative: the workers must get it made absolute
    )
    settings = Settings(sqlite=SQLiteSettings(path=str(workdir / "queue.db")), packs=packs)
    now = time.time()
    if hour_start(round(now * 1000)) + HOUR_MS - now * 1000 < 120_000:  # the maps must fetch within the hour
        time.sleep(hour_start(round(now * 1000)) / 1000 + 3601 - now)
    # given an hour for three places and a crawl to depth 1, planned as `ebbflow pack submit` would
    scheduler = open_scheduler(settings)
    resources = Resources(settings.packs)
    plan = PlanContext.now(resources)
    jobs = HOT.plan(HotTopicsParams(woeids=[1, 23424977, 23424856]), plan)
    seeds = [WORLD.video_id(i) for i in (5, 6)]
    jobs += CRAWL.plan(RelatedCrawlParams(seeds=seeds, max_depth=1, name="on-ray"), plan)
    submit_planned(scheduler, jobs)
    # when the dispatcher runs them on a private local Ray until the queue is empty
    outcomes: list[str] = []
    run_until_empty(settings, scheduler, lambda lease, outcome, run_s: outcomes.append(outcome))
    # then every job is done: 3 maps and the reduce the last one queued; the crawl's seeds and their children
    state = open_crawl_state(f"sqlite:///{workdir / 'rankings.db'}")
    crawl = state.summary("on-ray")
    state.close()
    assert crawl is not None and crawl.finished_ms is not None and crawl.stop_reason == "max_depth"
    assert outcomes == ["done"] * (3 + 1 + crawl.claimed)
    rankings = open_rankings(f"sqlite:///{workdir / 'rankings.db'}")
    hour = label(hour_start(round(time.time() * 1000)))
    assert {name for name in rankings.names("hot:") if name.endswith(hour)} == {
        f"hot:{place}:{hour}" for place in ("1", "23424977", "23424856", "global")
    }
    assert (workdir / "archive" / "hot-topics").is_dir()
    rankings.close()
    resources.close()
    scheduler.store.close()
