"""Video search: what the YouTube Data API's search finds in this world, by a fixed rule, cheaply.

The hot-topics pack searches "trend + context words" and must get the trend's own videos back, so relevance is
modelled on exactly that signal:

1. Query words: the query lowercased and split on anything but letters and digits; a CamelCase hashtag counts as
   its words (#AmberAnchor -> amber, anchor), and so does a topic's name written as one word (amberanchor).
2. Topic videos come first. A topic qualifies when one of its two name words is a query word; its score is how
   many distinct query words are among its name words and context terms. Higher scores rank first, so adding the
   right context words puts "Amber Anchor" above "Amber Tiger" for "amber anchor lava ocean". Ties go to the
   more popular video, i.e. the lower index (posts and related links favour low indices).
3. Then other videos whose titles contain query words, by how many they contain, then popularity. A real engine
   indexes everything; this one indexes the titles of the TITLE_SAMPLE most popular videos, so that a search never
   scans a catalogue of a million.

Only alive videos are returned.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import lru_cache

from workloads.world import trends as _trends
from workloads.world import videos as _videos
from workloads.world.config import WorldConfig
from workloads.world.videos import WorldVideo

TITLE_SAMPLE = 20_000
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def search(config: WorldConfig, query: str, limit: int) -> list[WorldVideo]:
    """Up to `limit` alive videos for `query`, best first (see the module docstring for the rule)."""
    words = query_words(config, query)
    if limit <= 0 or not words:
        return []
    chosen: dict[int, None] = {}
    for index in _ranked(_topic_hits(config, words), _title_hits(config, words)):
        if index not in chosen and _videos.status(config, index) == "alive":
            chosen[index] = None
            if len(chosen) == limit:
                break
    return [_videos.video_at(config, index) for index in chosen]


def query_words(config: WorldConfig, query: str) -> frozenset[str]:
    """The distinct lowercase words of a query, hashtags and one-word topic names split into their words."""
    joined = _joined_names(config)
    words: set[str] = set()
    for word in (w.lower() for w in _WORD.findall(query)):
        words.update(joined.get(word, (word,)))
    return frozenset(words)


def _ranked(*hits: Iterable[tuple[int, int]]) -> Iterator[int]:
    """Video indices of each list of (negated score, index) hits in turn, each list best first."""
    for group in hits:
        for _, index in sorted(group):
            yield index


def _topic_hits(config: WorldConfig, words: frozenset[str]) -> list[tuple[int, int]]:
    topics = {topic for word in words for topic in _name_index(config).get(word, ())}
    return [
        (-len(words & _vocabulary(config, topic)), index)
        for topic in topics
        for index in _trends.topic_videos(config, topic)
    ]


def _title_hits(config: WorldConfig, words: frozenset[str]) -> list[tuple[int, int]]:
    counts = Counter(index for word in words for index in _title_index(config).get(word, ()))
    return [(-count, index) for index, count in counts.items()]


@lru_cache(maxsize=8)
def _name_index(config: WorldConfig) -> dict[str, tuple[int, ...]]:
    """Name word -> the topics whose name has it."""
    index: dict[str, list[int]] = {}
    for topic in range(_trends.TOPICS):
        for word in set(_trends.topic_words(config, topic)):
            index.setdefault(word, []).append(topic)
    return {word: tuple(topics) for word, topics in index.items()}


@lru_cache(maxsize=8)
def _joined_names(config: WorldConfig) -> dict[str, tuple[str, str]]:
    """A topic name written as one word ("amberanchor") -> its two words."""
    pairs = (_trends.topic_words(config, topic) for topic in range(_trends.TOPICS))
    return {a + b: (a, b) for a, b in pairs}


@lru_cache(maxsize=4096)
def _vocabulary(config: WorldConfig, topic: int) -> frozenset[str]:
    return frozenset(_trends.topic_words(config, topic)) | frozenset(_trends.context_terms(config, topic))


@lru_cache(maxsize=4)
def _title_index(config: WorldConfig) -> dict[str, tuple[int, ...]]:
    """Title word -> indices (ascending, i.e. most popular first) among the TITLE_SAMPLE most popular videos."""
    index: dict[str, list[int]] = {}
    for video in range(min(config.videos, TITLE_SAMPLE)):
        for word in set(_videos.title(config, video).lower().split()):
            index.setdefault(word, []).append(video)
    return {word: tuple(videos) for word, videos in index.items()}
