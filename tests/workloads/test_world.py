"""The synthetic world: deterministic, heavy-tailed, with the dead share and post windows it promises."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

import workloads.emulator
import workloads.sources
import workloads.world
from workloads.sources.urls import video_id_from_url
from workloads.world import UnknownUserError, World, WorldConfig
from workloads.world.videos import DEAD_KINDS, RESTRICTED_SHARE, RESTRICTIONS

DAY_MS = 86_400_000
CONFIG = WorldConfig()
NOW_MS = CONFIG.epoch_ms + 30 * DAY_MS


@pytest.fixture(scope="module")
def world() -> World:
    return World(CONFIG)


def test_two_worlds_with_one_config_agree_on_everything() -> None:
    # given two independent instances of the same config
    a, b = World(WorldConfig(seed=11)), World(WorldConfig(seed=11))
    # when / then: every kind of answer is identical
    assert a.friends("42") == b.friends("42")
    assert a.posts("42", CONFIG.epoch_ms, NOW_MS) == b.posts("42", CONFIG.epoch_ms, NOW_MS)
    assert a.video(a.video_id(123)) == b.video(b.video_id(123))
    assert a.trends(1, NOW_MS) == b.trends(1, NOW_MS)
    assert a.tweets(1, NOW_MS) == b.tweets(1, NOW_MS)


def test_another_seed_gives_another_world() -> None:
    a, b = World(WorldConfig(seed=1)), World(WorldConfig(seed=2))
    assert a.friends("42") != b.friends("42")
    assert a.video_id(0) != b.video_id(0)


def test_degrees_are_heavy_tailed_and_capped(world: World) -> None:
    # given the degrees of 20k users
    degrees = [world.degree(str(u)) for u in range(1, 20_001)]
    # then the typical user has a few hundred friends at most, a long tail reaches the cap, and nobody exceeds it
    median = statistics.median(degrees)
    assert 100 <= median <= 200
    assert statistics.mean(degrees) > 1.5 * median
    assert sorted(degrees)[int(0.99 * len(degrees))] > 5 * median
    assert max(degrees) == 5000
    assert min(degrees) >= 1


def test_friends_are_distinct_existing_users_other_than_oneself(world: World) -> None:
    user = world.user_with_degree(300)
    friends = world.friends(user)
    assert len(friends) == 300
    assert len(set(friends)) == 300
    assert user not in friends
    assert all(world.is_user(f) for f in friends)


def test_user_with_degree_is_the_first_such_user(world: World) -> None:
    # when
    user = world.user_with_degree(120)
    # then it has that degree and no earlier user does
    assert world.degree(user) == 120
    assert all(world.degree(str(u)) != 120 for u in range(1, int(user)))


def test_user_with_an_impossible_degree_raises() -> None:
    small = World(WorldConfig(users=500))
    with pytest.raises(LookupError):
        small.user_with_degree(600)


@pytest.mark.parametrize("user_id", ["0", "007", "100001", "abc", "", "-3", "١٢"])
def test_ids_that_are_not_users_are_refused(world: World, user_id: str) -> None:
    assert not world.is_user(user_id)
    with pytest.raises(UnknownUserError):
        world.friends(user_id)


def test_dead_share_is_close_to_the_config_and_split_five_ways(world: World) -> None:
    # given 20k videos
    statuses = Counter(world.video(world.video_id(i)).status for i in range(20_000))  # type: ignore[union-attr]
    # then about 8% are dead, each way of dying about a fifth of them
    dead = 20_000 - statuses["alive"]
    assert abs(dead / 20_000 - CONFIG.dead_share) < 0.01
    assert set(statuses) == {"alive", *DEAD_KINDS}
    for kind in DEAD_KINDS:
        assert abs(statuses[kind] / dead - 1 / 5) < 0.06


def test_some_live_videos_are_age_restricted_or_region_blocked_and_no_dead_one_is(world: World) -> None:
    videos = [world.video(world.video_id(i)) for i in range(20_000)]
    restricted = Counter(v.restriction for v in videos if v is not None and v.status == "alive")
    alive = sum(restricted.values())
    for kind in RESTRICTIONS:
        assert abs(restricted[kind] / alive - RESTRICTED_SHARE / 2) < 0.006
    assert all(v.restriction is None for v in videos if v is not None and v.status != "alive")


def test_video_ids_round_trip_and_foreign_ids_are_not_videos(world: World) -> None:
    vid = world.video_id(4711)
    video = world.video(vid)
    assert video is not None and video.index == 4711 and video.video_id == vid
    assert len(vid) == 11
    for foreign in ("dQw4w9WgXcQ", "short", "AAAAAAAAAA!", World(WorldConfig(videos=10)).video_id(9) + "x"):
        assert world.video(foreign) is None
    # an id of a bigger world is not a video of a smaller one with the same seed
    assert World(WorldConfig(videos=1000)).video(world.video_id(999_999)) is None


def test_related_videos_are_other_existing_videos(world: World) -> None:
    video = world.video(world.video_id(77))
    assert video is not None
    assert len(video.related) == CONFIG.related_per_video == len(set(video.related))
    assert video.video_id not in video.related
    assert all(world.video(r) is not None for r in video.related)


def test_posts_lie_in_the_window_newest_first(world: World) -> None:
    # given a window in the middle of the world's first month
    since, until = CONFIG.epoch_ms + 3 * DAY_MS + 1234, CONFIG.epoch_ms + 20 * DAY_MS - 99
    for user in ("1", "2", "3", world.user_with_degree(5000)):
        # when
        posts = world.posts(user, since, until)
        # then every post is inside it, times strictly decrease, ids are stable and unique
        assert all(since <= p.created_ms <= until for p in posts)
        times = [p.created_ms for p in posts]
        assert times == sorted(times, reverse=True) and len(set(times)) == len(times)
        assert [p.snowflake for p in posts] == sorted((p.snowflake for p in posts), reverse=True)
        assert all(p.post_id.startswith(f"{user}_") and p.author_id == user for p in posts)
        # and splitting the window splits the posts exactly
        middle = CONFIG.epoch_ms + 10 * DAY_MS
        assert world.posts(user, middle + 1, until) + world.posts(user, since, middle) == posts


def test_nothing_was_posted_before_the_epoch(world: World) -> None:
    assert world.posts("1", 0, CONFIG.epoch_ms - 1) == []


def test_posts_share_videos_in_many_forms_and_favour_popular_ones(world: World) -> None:
    # given a month of posts by 500 users
    posts = [p for u in range(1, 501) for p in world.posts(str(u), CONFIG.epoch_ms, NOW_MS)]
    video_links = [link for p in posts for link in p.links if video_id_from_url(link)]
    # then about 40% of posts carry a video link, each naming a video of this world, in several forms
    assert abs(len(video_links) / len(posts) - CONFIG.video_link_share) < 0.05
    videos = [world.video(video_id_from_url(link) or "") for link in video_links]
    assert all(v is not None for v in videos)
    assert len({link.split("/")[2] + link.split("/")[3][:5] for link in video_links}) >= 5
    # and the 100 most popular videos take a large share of the links (Zipf), far above their 0.01% of the catalogue
    assert sum(1 for v in videos if v is not None and v.index < 100) / len(videos) > 0.2
    # and some posts carry non-video links
    assert any(link.startswith("https://example.com/news/") for p in posts for link in p.links)


def test_trends_are_per_place_partly_shared_and_backed_by_tweets(world: World) -> None:
    # when
    by_place = {woeid: world.trends(woeid, NOW_MS) for woeid in world.woeids()}
    # then each place has ten trends, and the big topics trend in several places at once
    assert all(len(trends) == 10 for trends in by_place.values())
    names = Counter(t.name for trends in by_place.values() for t in trends)
    assert max(names.values()) >= 3
    assert world.trends(999, NOW_MS) == []
    # and the tweets behind a trend mention it, and a query keeps only matching tweets
    top = by_place[1][0]
    matching = world.tweets(1, NOW_MS, top.query)
    assert matching and all(top.name.lower() in t.text.lower() for t in matching)
    assert len(matching) < len(world.tweets(1, NOW_MS))
    assert any(t.links for t in world.tweets(1, NOW_MS))
    # and they were posted in the hour before the trend list (NOW_MS is an hour boundary)
    assert all(NOW_MS - 3_600_000 <= t.created_ms < NOW_MS for t in world.tweets(1, NOW_MS))


def test_every_exported_name_exists() -> None:
    for package in (workloads.world, workloads.sources, workloads.emulator):
        assert [name for name in package.__all__ if not hasattr(package, name)] == []
