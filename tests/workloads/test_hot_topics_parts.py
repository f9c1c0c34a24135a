"""The hot-topics pack's pure parts: hours, context inference (the world is the oracle: it knows which words each
topic's tweets carry), the query builder, and the reduce's merging and scoring."""

from __future__ import annotations

import pyarrow as pa
import pytest

from workloads.hot_topics.contexts import ContextRules, infer_contexts, lowered, trend_masks, video_shares
from workloads.hot_topics.hours import HOUR_MS, hour_start, label, parse_hour, partition
from workloads.hot_topics.inputs import MAX_QUERY_CHARS, trend_queries
from workloads.hot_topics.ranking import SEARCH_PRIOR_TWEETS, PlaceTrend, merge, pooled, score_place, search_query
from workloads.hot_topics.reduce_step import rank_live_videos
from workloads.sources.types import VideoMeta
from workloads.world import World, WorldConfig
from workloads.world.trends import context_terms

WORLD = World(WorldConfig())
HOUR = WORLD.config.epoch_ms + 30 * HOUR_MS


def test_hours_round_trip_through_labels_and_partitions():
    hour = parse_hour("2026-12-01T05")
    assert label(hour) == "2026-12-01T05"
    assert partition(hour) == "date=2026-12-01/hour=05"
    assert parse_hour("2026-12-01T05:59:59Z") == hour == parse_hour("2026-12-01 05:30") == hour_start(hour + 1234)
    assert parse_hour("2026-12-01T07:00+02:00") == hour
    with pytest.raises(ValueError, match="like 2026-12-01T05"):
        parse_hour("yesterday")


@pytest.mark.parametrize("woeid", [23424977, 23424975, 1])
def test_contexts_are_the_words_the_topic_brings(woeid: int):
    # given one place-hour of the world's tweets and its trends
    tweets = WORLD.tweets(woeid, HOUR)
    trends = WORLD.trends(woeid, HOUR)
    # when the contexts are inferred
    found = infer_contexts(pa.array([t.text for t in tweets]), [t.name for t in trends])
    # then every word found is one of the topic's context words (precision), and every trend with enough tweets
    # gets a full context (recall)
    for trend, context in zip(trends, found, strict=True):
        truth = set(context_terms(WORLD.config, trend.topic))
        assert set(context.terms) <= truth, (trend.name, context.terms, truth)
        assert context.tweets == sum(trend.name.lower() in t.text.lower() for t in tweets)
        if context.tweets >= 30:
            assert len(context.terms) == ContextRules().top, (trend.name, context)


def test_words_common_to_every_trend_are_not_context():
    texts = [f"#Alpha golden just watched {n}" for n in range(20)] + [
        f"#Beta ocean just watched {n}" for n in range(20)
    ]
    alpha, beta = infer_contexts(pa.array(texts), ["#Alpha", "#Beta"])
    assert alpha.terms == ("golden",) and beta.terms == ("ocean",)  # "watched" comes with both: lift 1
    assert alpha.tweets == beta.tweets == 20


def test_a_trend_without_tweets_gets_an_empty_context():
    (context,) = infer_contexts(pa.array(["nothing here at all"]), ["#Missing"])
    assert context.tweets == 0 and context.terms == ()


def test_video_shares_count_each_tweet_once_per_video():
    texts = pa.array(["#Alpha one", "#Alpha two", "#Beta three"])
    links = pa.array(
        [
            ["https://youtu.be/AAAAAAAAAAA", "https://www.youtube.com/watch?v=AAAAAAAAAAA"],
            ["https://youtu.be/BBBBBBBBBBB", "https://example.com/not-a-video"],
            ["https://m.youtube.com/watch?v=AAAAAAAAAAA"],
        ],
        pa.list_(pa.string()),
    )
    shares = video_shares(links, trend_masks(lowered(texts), ["#Alpha", "#Beta"]), ["#Alpha", "#Beta"])
    assert shares == {"#Alpha": [("AAAAAAAAAAA", 1), ("BBBBBBBBBBB", 1)], "#Beta": [("AAAAAAAAAAA", 1)]}


def test_trend_queries_or_the_trends_and_split_at_the_length_limit():
    assert trend_queries(['"Foo Bar"', "#Baz"], "US") == ['("Foo Bar" OR #Baz) place_country:US']
    assert trend_queries(["#Baz"], None) == ["(#Baz)"]
    many = [f"#Trend{n:03d}{'x' * 40}" for n in range(30)]
    queries = trend_queries(many, "GB")
    assert len(queries) > 1 and all(len(query) <= MAX_QUERY_CHARS for query in queries)
    assert sorted(q for query in queries for q in query.split(")")[0].lstrip("(").split(" OR ")) == sorted(many)


def row(trend: str, tweets: int, terms: tuple[str, ...], support: tuple[int, ...], shares=()) -> PlaceTrend:
    return PlaceTrend(trend, 0, tweets, terms, support, tuple(shares))


def test_merge_pools_support_across_places_case_blind():
    places = {
        "1": [row("#Vote", 10, ("election", "poll"), (8, 3))],
        "2": [row("#vote", 30, ("poll", "senate"), (20, 5)), row("Quiet", 2, (), ())],
    }
    merged = merge(places)
    assert set(merged) == {"#vote", "quiet"}
    assert merged["#vote"].tweets == 40 and merged["#vote"].places == 2
    assert merged["#vote"].context == ("poll", "election", "senate")
    assert search_query(merged["#vote"]) == "Vote poll election senate"


def test_scores_weigh_search_and_shares_as_tweets_by_the_trends_share_of_talk():
    merged = merge({"1": [row("Big", 99, ("a",), (50,)), row("Small", 0, (), ())]})
    rows = [row("Big", 99, ("a",), (50,), [("v-shared", 33)]), row("Small", 0, (), ())]
    searched = {"big": ["v1", "v2"], "small": ["v3"]}
    hot = score_place(rows, searched, merged, top=10)
    scores = {video.video_id: video.score for video in hot}
    # Big has (99+1)/(99+1+0+1) of the talk, Small 1/101; a search answer is worth PRIOR / (1 + position) tweets
    # over the trend's tweets plus PRIOR
    prior = SEARCH_PRIOR_TWEETS
    assert scores["v1"] == pytest.approx(100 / 101 * prior / (99 + prior))
    assert scores["v2"] == pytest.approx(100 / 101 * prior / 2 / (99 + prior))
    assert scores["v-shared"] == pytest.approx(100 / 101 * 33 / (99 + prior))
    assert scores["v3"] == pytest.approx(1 / 101)  # a trend without tweets has only the search to go by
    assert [video.video_id for video in hot] == ["v-shared", "v1", "v2", "v3"]
    assert {video.video_id: video.trend for video in hot}["v3"] == "Small"
    assert {video.video_id: video.context for video in hot}["v3"] == ()  # no context anywhere
    assert score_place(rows, searched, merged, top=2) == hot[:2]
    # and a video known to be gone is not ranked; the next one moves up
    assert [video.video_id for video in score_place(rows, searched, merged, top=2, gone={"v1"})] == ["v-shared", "v2"]


def test_a_big_trends_deep_search_answers_rank_below_a_small_trends_shared_video():
    # a big trend's search runs out of its own videos and fills its page with other topics' ones, which none of
    # its thousands of tweets link; a small trend's video that its tweets link and its search finds is hotter
    rows = [row("Big", 5000, (), (), [("big-1", 900), ("big-2", 800)]), row("Small", 150, (), (), [("small-1", 15)])]
    searched = {"big": ["big-1", "big-2", *(f"other-{n}" for n in range(18))], "small": ["small-1"]}
    ranked = [video.video_id for video in score_place(rows, searched, merge({"1": rows}), top=4)]
    assert ranked == ["big-1", "big-2", "small-1", "other-0"]


def test_ranking_asks_about_the_videos_the_search_did_not_vouch_for_until_every_listed_one_is_up():
    rows = [row("Big", 100, (), (), [("dead-1", 30), ("up-1", 20), ("dead-2", 10)])]
    places = {"1": rows}
    merged = merge(places)
    searched = {"big": ["s-1", "s-2", "s-3"]}
    metadata = {video: VideoMeta(video, f"title {video}", "channel") for video in searched["big"]}
    site = {"up-1": VideoMeta("up-1", "title up-1", "channel")}  # the dead ones are unknown to it
    asked: list[list[str]] = []

    def lookup(video_ids: list[str]) -> list[VideoMeta | None]:
        asked.append(video_ids)
        return [site.get(video) for video in video_ids]

    hot = rank_live_videos(places, searched, merged, 3, metadata, lookup)
    # evidence in tweets: dead-1 30, s-1 20, up-1 20, dead-2 10, s-2 10, s-3 6.7 (ties by id). The first draw
    # lists dead-1, s-1 and up-1: the two unknown ones are asked about together and dead-1 drops out; then dead-2
    # moves in and is asked about alone; then s-2 takes its place
    assert asked == [["dead-1", "up-1"], ["dead-2"]]
    assert [video.video_id for video in hot["1"]] == ["s-1", "up-1", "s-2"]
    assert all(video.video_id in metadata for video in hot["1"])
    assert metadata["up-1"].title == "title up-1"


def test_the_global_view_pools_tweets_and_shares():
    places = {
        "1": [row("#Vote", 10, ("poll",), (8,), [("v", 2)])],
        "2": [row("#vote", 30, ("poll",), (20,), [("v", 5), ("w", 1)])],
    }
    (global_row,) = pooled(places, merge(places))
    assert global_row.tweets == 40 and global_row.shares == (("v", 7), ("w", 1)) and global_row.terms == ("poll",)
