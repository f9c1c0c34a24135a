"""Recent search over the world's tweets: the tweets of a time window that a parsed query matches.

The tweets posted during hour H are the ones behind hour H+1's trends (see trends.tweets), so a window is served
from the place-hours after each hour it spans. A query that names countries (`place_country:`) is looked for only
in those countries' places, which is what keeps the hot-topics pack's one-query-per-place searches cheap; a
query without one reads every place's tweets.
"""

from __future__ import annotations

from workloads.world.config import WorldConfig
from workloads.world.places import PLACES, woeids_in
from workloads.world.query import Doc, Query
from workloads.world.trends import HOUR_MS, WorldTweet, tweet_rows


def search(config: WorldConfig, query: Query, start_ms: int, end_ms: int) -> list[WorldTweet]:
    """Tweets created within [start_ms, end_ms) that `query` matches, newest first."""
    found: list[WorldTweet] = []
    matches = query.matches
    for woeid in candidate_places(query):
        for hour in _hours(start_ms, end_ms):
            whole = start_ms <= hour * HOUR_MS and (hour + 1) * HOUR_MS <= end_ms
            for row in tweet_rows(config, woeid, hour + 1):
                _, _, created_ms, text, links, _, _, country = row
                if (whole or start_ms <= created_ms < end_ms) and matches(Doc(text.lower(), country, links != ())):
                    found.append(WorldTweet._make(row))
    found.sort(key=lambda t: t.tweet_id, reverse=True)
    return found


def doc(tweet: WorldTweet) -> Doc:
    """What a query sees of a tweet."""
    return Doc(tweet.text.lower(), tweet.country, tweet.links != ())


def candidate_places(query: Query) -> tuple[int, ...]:
    """The places whose tweets the query could match: those of the countries it requires, or all of them."""
    return tuple(PLACES) if query.countries is None else woeids_in(query.countries)


def place_hours(query: Query, start_ms: int, end_ms: int) -> int:
    """How many place-hours a search reads: its cost, for callers that must bound it."""
    return len(candidate_places(query)) * len(_hours(start_ms, end_ms))


def _hours(start_ms: int, end_ms: int) -> range:
    """The hours (since the Unix epoch) that overlap [start_ms, end_ms)."""
    if end_ms <= start_ms:
        return range(0)
    return range(start_ms // HOUR_MS, (end_ms - 1) // HOUR_MS + 1)
