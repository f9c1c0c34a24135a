"""The social-graph pack end to end: the real adapters against the emulator, the SQLite stores, the scheduler
and the in-process worker; the world itself is the oracle for which videos a user's friends shared. On Facebook
those are only the friends who use the app, each read with their own token, as Graph allows (docs/api-graph.md)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from dispatcher.context import JobInterrupted
from scheduler.job import JobState
from scheduler.store import JobStore
from tests.ebbflow.conftest import Cli
from workloads.emulator import EmulatorServer, RateLimits
from workloads.emulator.ratelimit import Limit
from workloads.index import SQLiteVideoIndex, open_index
from workloads.rankings import SQLiteRankings, open_rankings
from workloads.resources import Resources
from workloads.settings import PacksSettings
from workloads.social_graph.fetch import DAY_MS, Progress, UserFetch, stream_name
from workloads.social_graph.networks import FRIENDS_PER_PAGE, FacebookNetwork, Network, XNetwork
from workloads.social_graph.pack import NetworkName
from workloads.sources.types import Secret
from workloads.sources.urls import video_ids_in
from workloads.world import World, WorldConfig
from workloads.world.users import graph_app_friends, graph_token

WORLD = World(WorldConfig())
MARGIN_MS = 120_000  # the job and the test read the clock at different moments
Stores = tuple[SQLiteVideoIndex, SQLiteRankings]


def app_friends(user: str) -> list[str]:
    return list(graph_app_friends(WORLD.config, int(user)))


def shared_videos(
    user: str, lookback_days: int, since_shift_ms: int, until_shift_ms: int, friends: Sequence[str] | None = None
) -> set[str]:
    now = round(time.time() * 1000)
    since = now - lookback_days * DAY_MS + since_shift_ms
    found: set[str] = set()
    for friend in WORLD.friends(user) if friends is None else friends:
        for post in WORLD.posts(friend, since, now + until_shift_ms):
            found.update(video_ids_in(post.text, post.links))
    return found


def assert_stream_matches_world(
    stream: set[str], user: str, lookback_days: int, friends: Sequence[str] | None = None
) -> None:
    """The stream holds what `friends` (all the user's friends: X follows them all) shared in the window."""
    surely = shared_videos(user, lookback_days, MARGIN_MS, -MARGIN_MS, friends)
    at_most = shared_videos(user, lookback_days, -MARGIN_MS, MARGIN_MS, friends)
    assert surely <= stream <= at_most
    assert len(surely) > 20  # the user's friends did share videos: the check above is not vacuous


def test_a_new_signup_is_fetched_urgently_and_its_videos_land_in_index_and_stream(cli: Cli, pack_env: Path) -> None:
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
def stores(tmp_path: Path) -> Iterator[tuple[SQLiteVideoIndex, SQLiteRankings]]:
    index = SQLiteVideoIndex(tmp_path / "index.db")
    index.migrate()
    rankings = SQLiteRankings(tmp_path / "rankings.db")
    yield index, rankings
    index.close()
    rankings.close()


@pytest.fixture
def resources(live_emulator: EmulatorServer) -> Iterator[Resources]:
    opened = Resources(PacksSettings(emulator=live_emulator.base_url))
    yield opened
    opened.close()


def test_a_preempted_fetch_resumes_at_the_next_page_and_ends_where_an_unbroken_one_does(
    stores: Stores, resources: Resources, tmp_path: Path
) -> None:
    index, rankings = stores
    user = WORLD.user_with_degree(350)  # four pages of followed accounts on X, fewer friends using the app
    facebook_pages, x_pages = math.ceil(len(app_friends(user)) / FRIENDS_PER_PAGE), 4
    assert facebook_pages >= 2
    networks: list[tuple[NetworkName, Network]] = [
        ("facebook", FacebookNetwork(resources.facebook, graph_token)),
        ("x", XNetwork(resources.x)),
    ]
    saved: list[Any] = []
    now = round(time.time() * 1000)

    def fetch(stop_after: int | None) -> UserFetch:
        calls = iter(range(10_000))
        stop = (lambda: next(calls) + 1 >= stop_after) if stop_after else (lambda: False)
        return UserFetch(user, index, rankings, now, 14, saved.append, stop)

    # given a fetch whose node is drained after its first page of friends
    with pytest.raises(JobInterrupted):
        fetch(stop_after=1).run(networks, Progress())
    checkpoint = saved[-1]
    assert (checkpoint["network"], checkpoint["pages"], checkpoint["done"]) == ("facebook", 1, [])
    assert "access_token" not in str(checkpoint)  # the page cursor kept no token
    assert index.cursor(user, "facebook") is None  # not saved until the network's last page
    # when it runs again from its checkpoint
    reports: list[Any] = []
    resuming = fetch(stop_after=None)
    resuming.report = reports.append
    resumed = resuming.run(networks, Progress.from_checkpoint(checkpoint))
    # then it fetched only the pages left, and the stream equals an unbroken fetch's on fresh stores
    assert resumed.done == ["facebook", "x"] and resumed.pages == facebook_pages + x_pages
    assert [(r["network"], r["pages"]) for r in reports] == [("facebook", n) for n in range(2, facebook_pages + 1)] + [
        ("x", facebook_pages + n) for n in range(1, x_pages + 1)
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


def test_the_saved_cursor_means_a_refetch_reads_no_old_posts(stores: Stores, resources: Resources) -> None:
    index, rankings = stores
    user = WORLD.user_with_degree(80)
    networks: list[tuple[NetworkName, Network]] = [
        ("facebook", FacebookNetwork(resources.facebook, graph_token)),
        ("x", XNetwork(resources.x)),
    ]
    now = round(time.time() * 1000)
    first = UserFetch(user, index, rankings, now, 14, lambda _: None).run(networks, Progress())
    again = UserFetch(user, index, rankings, now, 14, lambda _: None).run(networks, Progress())
    assert first.posts > 0 and first.videos > 0
    assert (again.posts, again.videos) == (0, 0)


def test_a_job_for_an_unknown_user_fails_with_the_sources_error(
    cli: Cli, pack_env: Path, configured_store: Callable[[], JobStore]
) -> None:
    cli.ok("pack", "submit", "social-graph", "--param", "users=999999999", "--param", "networks=facebook")
    cli.ok("work", "--idle-exit")
    dead = configured_store().dead_letters(10, 0)
    assert len(dead) == 1 and dead[0].state is JobState.DEAD
    assert dead[0].attempts == 1  # retrying cannot make the user exist: dead-lettered at once
    assert "JobCannotSucceed" in (dead[0].error or "") and "999999999" in (dead[0].error or "")


def test_a_spent_x_usage_cap_dead_letters_the_fetch_at_once_naming_the_cap(
    cli: Cli, workdir: Path, monkeypatch: pytest.MonkeyPatch, configured_store: Callable[[], JobStore]
) -> None:
    # given an emulator whose X token has spent its monthly usage cap
    with EmulatorServer(WorldConfig(), RateLimits(x=Limit(cap=0))) as server:
        monkeypatch.setenv("EBBFLOW_PACKS__EMULATOR", server.base_url)
        monkeypatch.setenv("EBBFLOW_PACKS__INDEX", f"sqlite:///{workdir / 'index.db'}")
        monkeypatch.setenv("EBBFLOW_PACKS__RANKINGS", f"sqlite:///{workdir / 'rankings.db'}")
        # when a user's X fetch runs
        user = WORLD.user_with_degree(120)
        cli.ok("pack", "submit", "social-graph", "--param", f"users={user}", "--param", "networks=x")
        cli.ok("work", "--idle-exit")
    # then it is dead-lettered on its first attempt, naming the cap, rather than retried into it
    (dead,) = configured_store().dead_letters(10, 0)
    assert dead.attempts == 1 and "usage cap reached" in (dead.error or ""), dead.error


def test_facebook_reads_the_app_using_friends_with_their_own_tokens_and_counts_those_it_holds_none_for(
    stores: Stores, resources: Resources
) -> None:
    index, rankings = stores
    user = WORLD.user_with_degree(300)
    listed = app_friends(user)
    # given an app that holds tokens for only half of the user's friends who use it
    held = set(listed[::2])

    def tokens(user_id: str) -> Secret | None:
        return graph_token(user_id) if user_id in held or user_id == user else None

    now = round(time.time() * 1000)
    # when the user's Facebook friends are fetched
    done = UserFetch(user, index, rankings, now, 14, lambda _: None).run(
        [("facebook", FacebookNetwork(resources.facebook, tokens))], Progress()
    )
    # then the stream holds exactly what the friends with a token shared, and the others are counted as skipped
    stream = {member for member, _ in rankings.top(stream_name(user), 10_000)}
    assert_stream_matches_world(stream, user, 14, friends=sorted(held))
    assert (done.friends_without_token, done.friends_unreadable) == (len(listed) - len(held), 0)
