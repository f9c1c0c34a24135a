"""X trends per WOEID and hour, and a sample of the tweets behind each trend.

Trends are drawn from one pool of topics with a Zipf pick, so the biggest topics trend in many places at once
(what the hot-topics reduce must merge) while smaller ones stay local. Each topic has a fixed set of context
terms that co-occur with it in tweets, and a few videos people share about it, so the map step has real signal.
Kept deliberately simple; the hot-topics work builds on it.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from functools import lru_cache

from workloads.world.config import WorldConfig
from workloads.world.hashing import h64, normal, unit, zipf_index
from workloads.world.ids import snowflake, video_id
from workloads.world.posts import VIDEO_LINK_FORMS
from workloads.world.words import FILLER, WORDS

HOUR_MS = 3_600_000
TRENDS_PER_PLACE = 10
TOPICS = 400
CONTEXT_TERMS = 6
TOPIC_VIDEOS = 5
VIDEO_TWEET_SHARE = 0.3

# A few real WOEIDs (Yahoo's Where On Earth ids, as the v1.1 trends API uses them) and their names.
WOEIDS: dict[int, str] = {
    1: "Worldwide",
    23424977: "United States",
    23424975: "United Kingdom",
    23424856: "Japan",
    23424829: "Germany",
    23424819: "France",
    23424848: "India",
    23424768: "Brazil",
    2459115: "New York",
    44418: "London",
}


@dataclass(frozen=True, slots=True)
class WorldTrend:
    """A trend as v1.1 reports it; `query` is the search query (not URL-encoded), `topic` its pool index."""

    name: str
    query: str
    tweet_volume: int | None
    topic: int


@dataclass(frozen=True, slots=True)
class WorldTweet:
    """One tweet about a trend; `tweet_id` is a snowflake, so ids order by time."""

    tweet_id: int
    author_id: str
    created_ms: int
    text: str
    links: tuple[str, ...]
    woeid: int
    trend: str


@lru_cache(maxsize=4096)
def trends(config: WorldConfig, woeid: int, hour: int) -> tuple[WorldTrend, ...]:
    """The trends of a place in an hour (hours since the Unix epoch), biggest first; empty for unknown places."""
    if woeid not in WOEIDS:
        return ()
    topics: dict[int, None] = {}
    draw = 0
    while len(topics) < TRENDS_PER_PLACE:
        # Rotating the pool by the hour (the same for every place) keeps trends shared across places yet moving.
        pick = zipf_index(unit(config.seed, "trend", woeid, hour, draw), TOPICS)
        topics[(pick + hour * 7) % TOPICS] = None
        draw += 1
    return tuple(_trend(config, topic, woeid, hour, rank) for rank, topic in enumerate(topics))


@lru_cache(maxsize=1024)
def tweets(config: WorldConfig, woeid: int, hour: int) -> tuple[WorldTweet, ...]:
    """A sample of the tweets behind the place's trends in that hour, newest first. They were posted in the hour
    before (trends are what was tweeted about), so at minute 0 a fresh trend already has its tweets."""
    sample = [
        _tweet(config, woeid, hour, trend, k)
        for rank, trend in enumerate(trends(config, woeid, hour))
        for k in range(20 - rank)
    ]
    return tuple(sorted(sample, key=lambda t: t.tweet_id, reverse=True))


def context_terms(config: WorldConfig, topic: int) -> tuple[str, ...]:
    """The words that co-occur with a topic in its tweets."""
    return tuple(WORDS[h64(config.seed, "context", topic, i) % len(WORDS)] for i in range(CONTEXT_TERMS))


def matches(text: str, query: str) -> bool:
    """Whether `text` matches `query` (see `query_terms`)."""
    return matches_terms(text, query_terms(query))


def query_terms(query: str) -> tuple[str, ...]:
    """A small subset of X's query language, lowercased: bare terms and "quoted phrases", all of which must
    occur; operators (`lang:en`, `-is:retweet`, `OR`) are ignored. Parse once, match many texts."""
    try:
        terms = shlex.split(query)
    except ValueError:  # an unbalanced quote: take the words as they are
        terms = query.split()
    return tuple(t.lower() for t in terms if t != "OR" and ":" not in t and not t.startswith("-"))


def matches_terms(text: str, terms: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return all(term in lowered for term in terms)


def _trend(config: WorldConfig, topic: int, woeid: int, hour: int, rank: int) -> WorldTrend:
    a, b = (WORDS[h64(config.seed, "topic", topic, i) % len(WORDS)] for i in range(2))
    name = f"#{a.title()}{b.title()}" if topic % 2 == 0 else f"{a.title()} {b.title()}"
    volume = None
    if unit(config.seed, "volume-known", topic, woeid, hour) >= 0.2:  # X reports null volumes for small trends
        volume = round(200_000 / (rank + 1) * math.exp(0.5 * normal(config.seed, "volume", topic, woeid, hour)))
    return WorldTrend(name=name, query=name if name.startswith("#") else f'"{name}"', tweet_volume=volume, topic=topic)


def _tweet(config: WorldConfig, woeid: int, hour: int, trend: WorldTrend, k: int) -> WorldTweet:
    h = h64(config.seed, "tweet", woeid, hour, trend.topic, k)
    created_ms = (hour - 1) * HOUR_MS + (h % 3600) * 1000  # the hour before: the tweets that made it trend
    context = context_terms(config, trend.topic)
    words = [trend.name, *(context[(h >> (8 + 3 * i)) % CONTEXT_TERMS] for i in range(2 + h % 2))]
    words += [FILLER[(h >> (20 + 5 * i)) % len(FILLER)] for i in range(3)]
    links: tuple[str, ...] = ()
    if unit(config.seed, "tweet-video", woeid, hour, trend.topic, k) < VIDEO_TWEET_SHARE:
        slot = h64(config.seed, "tweet-slot", woeid, hour, trend.topic, k) % TOPIC_VIDEOS
        index = zipf_index(unit(config.seed, "topic-video", trend.topic, slot), config.videos)
        links = (VIDEO_LINK_FORMS[(h >> 40) % len(VIDEO_LINK_FORMS)].format(id=video_id(config.seed, index)),)
    return WorldTweet(
        tweet_id=snowflake(created_ms, config.seed, "tweet", woeid, hour, trend.topic, k),
        author_id=str(1 + (h >> 12) % config.users),
        created_ms=created_ms,
        text=" ".join([*words, *links]),
        links=links,
        woeid=woeid,
        trend=trend.name,
    )
