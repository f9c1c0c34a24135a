"""The social-graph pack end to end: the real adapters against the emulator, the SQLite stores, the scheduler
and the in-process worker; the world itself is the oracle for which videos a user's friends shared."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dispatcher.context import JobInterrupted
from scheduler.job import JobState
from workloads.index import SQLiteVideoIndex, open_index
from workloads.rankings import SQLiteRankings, open_rankings
from workloads.resources import Resources
from workloads.settings import PacksSettings
from workloads.social_graph.fetch import DAY_MS, Progress, UserFetch, stream_name
from workloads.social_graph.networks import FacebookNetwork, XNetwork
from workloads.sources.urls import video_ids_in
from workloads.world import World, WorldConfig

WORLD = World(WorldConfig())
MARGIN_MS = 120_000  # the job and the test read the clock at different moments


def shared_videos(user: str, lookback_days: int, since_shift_ms: int, until_shift_ms: int) -> set[str]:
    now = round(time.time() * 1000)
    since = now - lookback_days * DAY_MS + since_shift_ms
    found: set[str] = set()
    for friend in WORLD.friends(user):
        for post in WORLD.posts(friend, since, now + until_shift_ms):
            found.update(video_ids_in(post.text, post.links))
    return found


def assert_stream_matches_world(stream: set[str], user: str, lookback_days: int) -> None:
    surely = shared_videos(user, lookback_days, MARGIN_MS, -MARGIN_MS)
    at_most = shared_videos(user, lookback_days, -MARGIN_MS, MARGIN_MS)
    assert surely <= stream <= at_most
    assert len(surely) > 20  # the user's friends did share videos: the check above is not vacuous


def test_a_new_signup_is_fetched_urgently_and_its_videos_land_in_index_and_stream(cli, pack_env: Path):
    user = WORLD.user_with_degree(120)
    # given a new sign-up submitted through the pack
    cli.ok("pack", "submit", "social-graph", "--param", f"users={user}", "--param", "activity=new-signup")
    # when a worker runs the queue
    cli.ok("work", "--idle-exit")
    # then the stream holds exactly the videos the world says the friends shared, and the index has them all
    rankings = open_rankings(f"sqlite:///{pack_env / 'rankings.db'}")
    index = open_index(f"sqlite:///{pack_env / 'index.db'}")
    stream = {member for member, _ in rankings.top(stream_name(user), 10_000)}
    assert_stream_matches_world(stream, user, lookback_days=14)
    stored = index.get(sorted(stream))
    assert set(stored) == stream
    assert all(video.url == f"https://www.youtube.com/watch?v={vid}" for vid, video in stored.items())
    # and each network's cursor is saved, so the next fetch asks only for what is new
    assert index.cursor(user, "facebook") is not None and index.cursor(user, "x") is not None
    rankings.close()
    index.close()


@pytest.fixture
def stores(tmp_path: Path):
    index = SQLiteVideoIndex(tmp_path / "index.db")
    index.migrate()
    rankings = SQLiteRankings(tmp_path / "rankings.db")
    yield index, rankings
    index.close()
    rankings.close()


@pytest.fixture
def resources(live_emulator):
    opened = Resources(PacksSettings(emulator=live_emulator.base_url))
    yield opened
    opened.close()


def test_a_preempted_fetch_resumes_at_the_next_page_and_ends_where_an_unbroken_one_does(stores, resources, tmp_path):
    index, rankings = stores
    user = WORLD.user_with_degree(350)  # four pages of friends on each network
    networks = [("facebook", FacebookNetwork(resources.facebook)), ("x", XNetwork(resources.x))]
    saved: list[dict] = []
    now = round(time.time() * 1000)

    def fetch(stop_after: int | None) -> UserFetch:
        calls = iter(range(10_000))
        stop = (lambda: next(calls) + 1 >= stop_after) if stop_after else (lambda: False)
        return UserFetch(user, index, rankings, now, 14, saved.append, stop)

    # given a fetch whose node is drained after its second page of friends
    with pytest.raises(JobInterrupted):
        fetch(stop_after=2).run(networks, Progress())
    checkpoint = saved[-1]
    assert (checkpoint["network"], checkpoint["pages"], checkpoint["done"]) == ("facebook", 2, [])
    assert index.cursor(user, "facebook") is None  # not saved until the network's last page
    # when it runs again from its checkpoint
    reports: list[dict] = []
    resuming = fetch(stop_after=None)
    resuming.report = reports.append
    resumed = resuming.run(networks, Progress.from_checkpoint(checkpoint))
    # then it fetched only the pages left, and the stream equals an unbroken fetch's on fresh stores
    assert resumed.done == ["facebook", "x"] and resumed.pages == 8
    assert [(r["network"], r["pages"]) for r in reports] == [("facebook", 3), ("facebook", 4)] + [
        ("x", n) for n in (5, 6, 7, 8)
    ]
    assert reports[-1]["videos"] == resumed.videos
    fresh_index = SQLiteVideoIndex(tmp_path / "fresh.db")
    fresh_index.migrate()
    fresh_rankings = SQLiteRankings(tmp_path / "fresh-rankings.db")
    UserFetch(user, fresh_index, fresh_rankings, now, 14, lambda _: None).run(networks, Progress())
    assert rankings.top(stream_name(user), 10_000) == fresh_rankings.top(stream_name(user), 10_000)
    assert index.count() == fresh_index.count()
    fresh_index.close()
    fresh_rankings.close()


def test_the_saved_cursor_means_a_refetch_reads_no_old_posts(stores, resources):
    index, rankings = stores
    user = WORLD.user_with_degree(80)
    networks = [("facebook", FacebookNetwork(resources.facebook)), ("x", XNetwork(resources.x))]
    now = round(time.time() * 1000)
    first = UserFetch(user, index, rankings, now, 14, lambda _: None).run(networks, Progress())
    again = UserFetch(user, index, rankings, now, 14, lambda _: None).run(networks, Progress())
    assert first.posts > 0 and first.videos > 0
    assert (again.posts, again.videos) == (0, 0)


def test_a_job_for_an_unknown_user_fails_with_the_sources_error(cli, pack_env: Path, configured_store):
    cli.ok("pack", "submit", "social-graph", "--param", "users=999999999", "--param", "networks=facebook")
    cli.ok("work", "--idle-exit")
    dead = configured_store().dead_letters(10, 0)
    assert len(dead) == 1 and dead[0].state is JobState.DEAD
    assert dead[0].attempts == 1  # retrying cannot make the user exist: dead-lettered at once
    assert "JobCannotSucceed" in (dead[0].error or "") and "999999999" in (dead[0].error or "")
