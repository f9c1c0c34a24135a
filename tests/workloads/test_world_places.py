"""The world's places, their hourly tweets, search over them by place and time, and video search."""

from __future__ import annotations

from collections import Counter

import pytest

from workloads.world import HOT_TOPIC_WOEIDS, PLACES, WOEIDS, World, WorldConfig, parse_query
from workloads.world import trends as world_trends
from workloads.world.ids import snowflake_ms
from workloads.world.video_search import query_words

HOUR_MS = 3_600_000
CONFIG = WorldConfig()
HOUR = CONFIG.epoch_ms + 30 * 86_400_000  # an hour boundary
US, NEW_YORK, WORLDWIDE = 23424977, 2459115, 1


@pytest.fixture(scope="module")
def world() -> World:
    return World(CONFIG)


def test_places_carry_real_ids_and_country_codes() -> None:
    # the ids other code (and the old tests) rely on
    assert {w: PLACES[w].country_code for w in (US, 23424975, 23424856, 23424829, 23424768, 23424900)} == {
        US: "US", 23424975: "GB", 23424856: "JP", 23424829: "DE", 23424768: "BR", 23424900: "MX"
    }  # fmt: skip
    assert (PLACES[1].name, PLACES[1].country_code, PLACES[1].kind) == ("Worldwide", None, "world")
    assert (PLACES[NEW_YORK].country_code, PLACES[NEW_YORK].kind) == ("US", "town")
    assert (PLACES[44418].country_code, PLACES[44418].kind) == ("GB", "town")
    countries = [p for p in PLACES.values() if p.kind == "country"]
    # every country once, with a two-letter code, and the hot-topics list is Worldwide and every country
    assert 150 <= len(countries) <= 200
    assert len({p.country_code for p in countries}) == len(countries)
    assert all(p.country_code is not None and len(p.country_code) == 2 and p.country_code.isupper() for p in countries)
    assert (1, *(p.woeid for p in countries)) == HOT_TOPIC_WOEIDS
    assert {w: p.name for w, p in PLACES.items()} == WOEIDS
    assert len(PLACES) <= 1024  # a place's position is the worker id in its tweets' snowflakes (10 bits)


def test_every_hot_topic_place_has_ten_trends_and_its_hours_tweets(world: World) -> None:
    for woeid in HOT_TOPIC_WOEIDS:
        assert len(world.trends(woeid, HOUR)) == 10, woeid
    # spot-check the tweets of a few places: the configured volume, posted in the hour before
    for woeid in HOT_TOPIC_WOEIDS[::40]:
        tweets = world.tweets(woeid, HOUR)
        assert len(tweets) == CONFIG.tweets_per_place_hour
        assert all(HOUR - HOUR_MS <= t.created_ms < HOUR for t in tweets)
        assert all(t.country == PLACES[woeid].country_code and t.woeid == woeid for t in tweets)


def test_a_place_hours_tweets_have_a_heavy_head_and_keep_their_shape(world: World) -> None:
    # given one place-hour
    trends = world.trends(US, HOUR)
    tweets = world.tweets(US, HOUR)
    # then every trend has tweets, more the higher it ranks, the top one about a third
    per_trend = Counter(t.trend for t in tweets)
    counts = [per_trend[t.name] for t in trends]
    assert counts == sorted(counts, reverse=True) and counts[-1] > 0
    assert 0.25 <= counts[0] / len(tweets) <= 0.45
    # and each tweet names its trend, then 2-3 of the topic's context terms, three filler words, maybe a link
    for tweet in tweets[:200]:
        trend = next(t for t in trends if t.name == tweet.trend)
        words = tweet.text.removeprefix(tweet.trend).split()
        context = world_trends.context_terms(CONFIG, trend.topic)
        links = list(tweet.links)
        assert tweet.text.startswith(tweet.trend)
        assert words[len(words) - len(links) :] == links
        assert len(words) - len(links) in (5, 6) and all(w in context for w in words[: len(words) - len(links) - 3])
    assert 0.2 <= sum(1 for t in tweets if t.links) / len(tweets) <= 0.4


def test_tweet_ids_are_unique_snowflakes_of_their_time(world: World) -> None:
    tweets = [t for woeid in (WORLDWIDE, US, NEW_YORK, 23424975) for t in world.tweets(woeid, HOUR)]
    assert len({t.tweet_id for t in tweets}) == len(tweets)
    assert all(snowflake_ms(t.tweet_id) == t.created_ms for t in tweets)
    assert [t.tweet_id for t in world.tweets(US, HOUR)] == sorted(
        (t.tweet_id for t in world.tweets(US, HOUR)), reverse=True
    )


def test_one_place_hour_of_tweets_is_quick_to_make() -> None:
    # given a config nobody has asked about yet (so nothing is memoised)
    config = WorldConfig(seed=4242)
    world_trends.trends(config, US, HOUR // HOUR_MS)
    trends_made = world_trends.trends.cache_info().misses
    # when one place-hour's tweets are made, then no other place's trends are (counted as work, not timed:
    # a wall-clock bound failed CI on a busy machine; the speed is bench/hot_topics_hour.py's to measure)
    rows = world_trends.tweet_rows(config, US, HOUR // HOUR_MS)
    assert world_trends.trends.cache_info().misses == trends_made
    assert len(rows) == config.tweets_per_place_hour


@pytest.mark.parametrize("bad", [0, -1, 4097])
def test_tweets_per_place_hour_is_validated(bad: int) -> None:
    with pytest.raises(ValueError, match="tweets_per_place_hour"):
        WorldConfig(tweets_per_place_hour=bad)


def test_a_smaller_volume_is_honoured() -> None:
    assert len(World(WorldConfig(tweets_per_place_hour=50)).tweets(US, HOUR)) == 50


def test_searching_a_country_finds_its_places_tweets_only(world: World) -> None:
    # when the whole of one hour is searched for every US tweet
    found = world.search_tweets("place_country:US", HOUR - HOUR_MS, HOUR)
    # then it is the country's and New York's tweets of that hour, newest first, and nothing else
    expected = [*world.tweets(US, HOUR), *world.tweets(NEW_YORK, HOUR)]
    assert sorted(t.tweet_id for t in found) == sorted(t.tweet_id for t in expected)
    assert [t.tweet_id for t in found] == sorted((t.tweet_id for t in found), reverse=True)
    # and a trend's query within the country keeps that trend's tweets of both places
    trend = world.trends(US, HOUR)[0]
    about = world.search_tweets(f"{trend.query} place_country:US", HOUR - HOUR_MS, HOUR)
    assert about and all(t.country == "US" and trend.name.lower() in t.text.lower() for t in about)
    assert {t.woeid for t in about} <= {US, NEW_YORK}


def test_search_windows_are_start_inclusive_end_exclusive_across_hours(world: World) -> None:
    # given a window from 10:15 to 11:45 (two hours of tweets: those behind 11:00's and 12:00's trends)
    start, end = HOUR - HOUR_MS + 15 * 60_000, HOUR + 45 * 60_000
    found = world.search_tweets("place_country:JP", start, end)
    expected = [t for h in (HOUR, HOUR + HOUR_MS) for t in world.tweets(23424856, h) if start <= t.created_ms < end]
    assert sorted(t.tweet_id for t in found) == sorted(t.tweet_id for t in expected)
    assert found and min(t.created_ms for t in found) >= start and max(t.created_ms for t in found) < end


def test_a_worldwide_query_finds_a_trend_wherever_it_is_tweeted(world: World) -> None:
    trend = world.trends(WORLDWIDE, HOUR)[0]
    found = world.search_tweets(trend.query, HOUR - HOUR_MS, HOUR)
    # the top worldwide trend trends in many places, and Worldwide's own tweets carry no country
    assert len({t.woeid for t in found}) > 10
    assert {t.country for t in found if t.woeid == WORLDWIDE} == {None}
    tweets_of_us = [t.tweet_id for t in world.tweets(US, HOUR, trend.query)]
    assert set(tweets_of_us) <= {t.tweet_id for t in found}


def test_every_topic_has_its_own_two_word_name() -> None:
    # on X a trend is its name: two topics under one name would be one trend with two topics' videos
    names = [world_trends.topic_words(CONFIG, topic) for topic in range(world_trends.TOPICS)]
    assert all(a != b for a, b in names)
    assert len({frozenset(name) for name in names}) == world_trends.TOPICS


def _topic_pair(world: World) -> tuple[int, int]:
    """Two topics that trend now and share a name word."""
    topics = {t.topic for woeid in HOT_TOPIC_WOEIDS for t in world.trends(woeid, HOUR)}
    for a in sorted(topics):
        for b in range(world_trends.TOPICS):
            shared = set(world_trends.topic_words(CONFIG, a)) & set(world_trends.topic_words(CONFIG, b))
            if a != b and shared:
                return a, b
    raise AssertionError("no two topics share a name word")


def alive_videos(world: World, topic: int) -> list[int]:
    """A topic's alive videos, most popular (lowest index) first."""
    indices = world_trends.topic_videos(CONFIG, topic)
    return sorted(i for i in indices if getattr(world.video(world.video_id(i)), "status", None) == "alive")


def test_video_search_puts_the_topic_with_the_querys_context_first(world: World) -> None:
    # given two topics that share a name word, and a query of that word and the first topic's context
    a, b = _topic_pair(world)
    shared = (set(world_trends.topic_words(CONFIG, a)) & set(world_trends.topic_words(CONFIG, b))).pop()
    context = [w for w in world_trends.context_terms(CONFIG, a) if w not in query_words(CONFIG, shared)][:2]
    found = world.search_videos(" ".join([shared, *context]), 20)
    # then a's alive videos come first, most popular first, and b's come later
    first, second = alive_videos(world, a), alive_videos(world, b)
    assert [v.index for v in found[: len(first)]] == first
    positions = {v.index: n for n, v in enumerate(found)}
    assert all(positions.get(i, 99) >= len(first) for i in second)
    assert all(v.status == "alive" for v in found)


def test_video_search_reads_a_hashtag_as_its_words(world: World) -> None:
    trend = next(t for t in world.trends(WORLDWIDE, HOUR) if t.name.startswith("#"))
    words = " ".join(world_trends.topic_words(CONFIG, trend.topic))
    assert world.search_videos(trend.name, 10) == world.search_videos(words, 10)
    assert world.search_videos(trend.name.lstrip("#").lower(), 10) == world.search_videos(words, 10)


def test_video_search_fills_up_with_title_matches_and_stays_bounded(world: World) -> None:
    # given a one-word query: the videos of the topics named with it come first
    word = "zephyr"
    named = [t for t in range(world_trends.TOPICS) if word in world_trends.topic_words(CONFIG, t)]
    topic_videos = {i for t in named for i in world_trends.topic_videos(CONFIG, t)}
    found = world.search_videos(word, 60)
    head = [v for v in found if v.index in topic_videos]
    assert found[: len(head)] == head and 0 < len(head) <= 5 * len(named)
    # then videos with the word in their title fill up the rest, most popular first
    rest = found[len(head) :]
    assert len(found) == 60 and all(word in v.title.lower() for v in rest)
    assert [v.index for v in rest] == sorted(v.index for v in rest)
    assert world.search_videos(word, 0) == [] and world.search_videos("", 5) == []


def test_a_query_string_and_a_parsed_query_search_alike(world: World) -> None:
    text = '("Ocean Comet" OR #DanceCedar) place_country:US'
    assert world.search_tweets(text, HOUR - HOUR_MS, HOUR) == world.search_tweets(
        parse_query(text), HOUR - HOUR_MS, HOUR
    )
