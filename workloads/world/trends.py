"""X trends per WOEID and hour, and the tweets behind each trend.

Trends are drawn from one pool of topics with a Zipf pick, so the biggest topics trend in many places at once
(what the hot-topics reduce must merge) while smaller ones stay local. Each topic has a fixed set of context
terms that co-occur with it in tweets, and a few videos people share about it, so the map step has real signal.

A place-hour has `tweets_per_place_hour` tweets (600 by default), spread over its ten trends with a heavy head,
as real volume is. That is ~100k tweets an hour over all places, so a tweet's draws are read off one hash stream
per trend rather than a hash each, and ids are laid out like X's snowflakes (time, then the place as worker id,
then a sequence number) so that they are unique without any bookkeeping.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from workloads.world.config import WorldConfig
from workloads.world.hashing import draw_records, h64, normal, unit, zipf_index
from workloads.world.ids import sequenced_snowflake, video_id
from workloads.world.places import PLACES
from workloads.world.posts import VIDEO_LINK_FORMS
from workloads.world.words import FILLER, WORDS

HOUR_MS = 3_600_000
TRENDS_PER_PLACE = 10
TOPICS = 400
CONTEXT_TERMS = 6
TOPIC_VIDEOS = 5
VIDEO_TWEET_SHARE = 0.3

# WOEID -> name of every place with trends (Yahoo's Where On Earth ids, as the v1.1 trends API uses them).
WOEIDS: dict[int, str] = {woeid: place.name for woeid, place in PLACES.items()}
# A place's position is its snowflake worker id: 10 bits, so at most 1024 places.
_WORKER = {woeid: n for n, woeid in enumerate(PLACES)}
_VIDEO_CUT = round(VIDEO_TWEET_SHARE * (1 << 16))
# A tweet's draws: second of the hour, 2 context terms, an optional third, 3 filler words, a video or not (below
# _VIDEO_CUT), which link, the author: 16 bytes.
_TWEET_DRAWS = "<H6BHBIx"


@dataclass(frozen=True, slots=True)
class WorldTrend:
    """A trend as v1.1 reports it; `query` is the search query (not URL-encoded), `topic` its pool index."""

    name: str
    query: str
    tweet_volume: int | None
    topic: int


class WorldTweet(NamedTuple):
    """One tweet about a trend; `tweet_id` is a snowflake, so ids order by time. `country` is the code of the
    place's country (a town's too), None for Worldwide's own tweets. A NamedTuple rather than a frozen dataclass:
    a search builds one per match, and a tuple builds in a fifth of the time."""

    tweet_id: int
    author_id: str
    created_ms: int
    text: str
    links: tuple[str, ...]
    woeid: int
    trend: str
    country: str | None


# WorldTweet's fields as a plain tuple (see tweet_rows).
TweetRow = tuple[int, str, int, str, tuple[str, ...], int, str, str | None]


@lru_cache(maxsize=4096)
def trends(config: WorldConfig, woeid: int, hour: int) -> tuple[WorldTrend, ...]:
    """The trends of a place in an hour (hours since the Unix epoch), biggest first; empty for unknown places."""
    if woeid not in PLACES:
        return ()
    topics: dict[int, None] = {}
    draw = 0
    while len(topics) < TRENDS_PER_PLACE:
        # Rotating the pool by the hour (the same for every place) keeps trends shared across places yet moving.
        pick = zipf_index(unit(config.seed, "trend", woeid, hour, draw), TOPICS)
        topics[(pick + hour * 7) % TOPICS] = None
        draw += 1
    return tuple(_trend(config, topic, woeid, hour, rank) for rank, topic in enumerate(topics))


def tweets(config: WorldConfig, woeid: int, hour: int) -> tuple[WorldTweet, ...]:
    """The tweets behind the place's trends in that hour, newest first. They were posted in the hour before
    (trends are what was tweeted about), so at minute 0 a fresh trend already has its tweets."""
    return tuple(map(WorldTweet._make, tweet_rows(config, woeid, hour)))


# Three hours of every place (~200 KB each): a worldwide search's default two hours and the hour being tweeted.
@lru_cache(maxsize=3 * len(PLACES) + 64)
def tweet_rows(config: WorldConfig, woeid: int, hour: int) -> tuple[TweetRow, ...]:
    """`tweets`, as plain tuples of WorldTweet's fields. This is what is kept, because the garbage collector stops
    tracking a plain tuple of plain values (not a NamedTuple), and a hundred thousand tracked objects per hour of
    world time would make each of its full collections crawl."""
    made: list[TweetRow] = []
    for trend, count in zip(trends(config, woeid, hour), tweet_counts(config.tweets_per_place_hour), strict=False):
        made += _trend_tweets(config, woeid, hour, trend, len(made), count)
    made.sort(reverse=True)  # by id, the first field
    return tuple(made)


@lru_cache(maxsize=64)
def tweet_counts(total: int) -> tuple[int, ...]:
    """How many of a place-hour's `total` tweets each trend gets, by rank: in proportion to 1/(rank+1), so the top
    trend has about a third and the tenth about 3%; they add up to `total`."""
    weights = [1 / (rank + 1) for rank in range(TRENDS_PER_PLACE)]
    scale = total / sum(weights)
    bounds = [round(sum(weights[:rank]) * scale) for rank in range(TRENDS_PER_PLACE + 1)]
    return tuple(b - a for a, b in itertools.pairwise(bounds))


def topic_words(config: WorldConfig, topic: int) -> tuple[str, str]:
    """The two words a topic's name is made of ("amber", "anchor" for "#AmberAnchor" or "Amber Anchor")."""
    return _topic_name_table(config)[topic]


@lru_cache(maxsize=16)
def _topic_name_table(config: WorldConfig) -> tuple[tuple[str, str], ...]:
    """Every topic's two name words: two different words, drawn again when another topic already has them (in
    either order). On X a trend is its name, so two topics under one name would be one trend that the world
    counted as two: a place's trend would bring the other topic's tweets and videos along."""
    taken: set[frozenset[str]] = set()
    table: list[tuple[str, str]] = []
    for topic in range(TOPICS):
        draw = 0
        while True:
            a, b = (WORDS[h64(config.seed, "topic", topic, draw + i) % len(WORDS)] for i in range(2))
            draw += 2
            if a != b and frozenset((a, b)) not in taken:
                break
        taken.add(frozenset((a, b)))
        table.append((a, b))
    return tuple(table)


@lru_cache(maxsize=4096)
def context_terms(config: WorldConfig, topic: int) -> tuple[str, ...]:
    """The words that co-occur with a topic in its tweets."""
    return tuple(WORDS[h64(config.seed, "context", topic, i) % len(WORDS)] for i in range(CONTEXT_TERMS))


def topic_videos(config: WorldConfig, topic: int) -> tuple[int, ...]:
    """Indices of the TOPIC_VIDEOS videos people share about a topic."""
    return _topic_video_table(config)[topic]


@lru_cache(maxsize=16)
def _topic_video_table(config: WorldConfig) -> tuple[tuple[int, ...], ...]:
    """Every topic's videos: uniform picks, drawn again on a clash so that no two topics share a video (while the
    catalogue has room), which is what lets a video search tell topics apart."""
    taken: set[int] = set()
    table: list[tuple[int, ...]] = []
    for topic in range(TOPICS):
        picks: list[int] = []
        draw = 0
        while len(picks) < TOPIC_VIDEOS:
            index = h64(config.seed, "topic-video", topic, draw) % config.videos
            draw += 1
            if index not in taken or len(taken) >= config.videos:
                taken.add(index)
                picks.append(index)
        table.append(tuple(picks))
    return tuple(table)


@lru_cache(maxsize=4096)
def _topic_links(config: WorldConfig, topic: int) -> tuple[str, ...]:
    """Every way to paste every video of a topic (TOPIC_VIDEOS x VIDEO_LINK_FORMS links)."""
    ids = [video_id(config.seed, index) for index in topic_videos(config, topic)]
    return tuple(form.format(id=vid) for vid in ids for form in VIDEO_LINK_FORMS)


def _trend(config: WorldConfig, topic: int, woeid: int, hour: int, rank: int) -> WorldTrend:
    a, b = topic_words(config, topic)
    name = f"#{a.title()}{b.title()}" if topic % 2 == 0 else f"{a.title()} {b.title()}"
    volume = None
    if unit(config.seed, "volume-known", topic, woeid, hour) >= 0.2:  # X reports null volumes for small trends
        volume = round(200_000 / (rank + 1) * math.exp(0.5 * normal(config.seed, "volume", topic, woeid, hour)))
    return WorldTrend(name=name, query=name if name.startswith("#") else f'"{name}"', tweet_volume=volume, topic=topic)


def _trend_tweets(
    config: WorldConfig, woeid: int, hour: int, trend: WorldTrend, first: int, count: int
) -> list[TweetRow]:
    """`count` tweets about `trend`: its name, 2-3 of its context terms, three filler words and, for about 30%,
    a link to one of the topic's videos. `first` is the place-hour sequence number of the first one."""
    posted_from = (hour - 1) * HOUR_MS  # the hour before: the tweets that made it trend
    # Ids differ from this one by the ms offset and by k in the sequence number (config caps the count at 4096).
    base_id = sequenced_snowflake(posted_from, _WORKER[woeid], first)
    name, country, users = trend.name, PLACES[woeid].country_code, config.users
    context, third, links = _by_byte(config, trend.topic)
    made: list[TweetRow] = []
    add = made.append
    draws = draw_records(_TWEET_DRAWS, count, config.seed, "tweets", woeid, hour, trend.topic)
    for k, (second, c1, c2, c3, f1, f2, f3, video, link, author) in enumerate(draws):
        offset_ms = second % 3600 * 1000
        text = f"{name} {context[c1]} {context[c2]}{third[c3]} {_FILLER[f1]} {_FILLER[f2]} {_FILLER[f3]}"
        shared = (links[link],) if video < _VIDEO_CUT else ()
        if shared:
            text = f"{text} {shared[0]}"
        tweet_id = base_id + (offset_ms << 22) + k
        add((tweet_id, str(1 + author % users), posted_from + offset_ms, text, shared, woeid, name, country))
    return made


# Byte-wide draws index these tables directly (a modulo per word is a measurable share of a tweet's cost); the
# slight bias of 256 onto 6 or 24 entries does not matter here.
_FILLER = tuple(FILLER[i % len(FILLER)] for i in range(256))


@lru_cache(maxsize=4096)
def _by_byte(config: WorldConfig, topic: int) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """A topic's context terms, optional third term (odd bytes only: " term", even: "") and links, by byte."""
    context = context_terms(config, topic)
    links = _topic_links(config, topic)
    return (
        tuple(context[i % CONTEXT_TERMS] for i in range(256)),
        tuple(f" {context[(i >> 1) % CONTEXT_TERMS]}" if i & 1 else "" for i in range(256)),
        tuple(links[i % len(links)] for i in range(256)),
    )
