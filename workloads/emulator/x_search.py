"""The emulated X v2 recent search: GET /2/tweets/search/recent over every place's tweets.

The query is parsed once (world.query: terms, "phrases", #hashtags, OR, groups, -negation, place_country:,
has:links, lang:, is:retweet) and the window is [start_time, end_time), ISO 8601 as X takes it. X's default
window is the last 7 days, which here would be 170 places x 168 hours of tweets; instead, without either time the
window is the two whole hours before the current one (the tweets behind the current and the previous hour's
trends: what the world served before windows existed). With only start_time the window ends now, as on X; with
only end_time it starts two hours before the hour boundary at or after it. A start more than 7 days back, an end
in the future or a start not before the end is refused with X's 400.

The whole matched, id-sorted result of a (query, hours) pair is cached, so a worldwide query pays for reading
every place once (a few hundred ms) and each further page is a binary search and a slice. A query with
place_country: reads only that country's places. Searches that would read more than MAX_PLACE_HOURS
place-hours (half a day of every place) are refused rather than allowed to stall the event loop.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from functools import lru_cache

from aiohttp import web

from workloads.emulator.paging import decode_cursor, int_param, iso_millis
from workloads.emulator.state import STATE, Answer, Query, json_answer
from workloads.emulator.x import Row, invalid, tweet_fields, tweet_page
from workloads.world import Query as TweetQuery
from workloads.world import QueryError, World, WorldTweet, parse_query
from workloads.world.ids import TWEPOCH_MS
from workloads.world.tweet_search import place_hours

HOUR_MS = 3_600_000
RECENT_MS = 7 * 24 * HOUR_MS  # how far back recent search reaches
DEFAULT_SPAN_HOURS = 2
MAX_PLACE_HOURS = 2400  # about 14 hours of every place
_TOO_WIDE = (
    f"the emulator reads at most {MAX_PLACE_HOURS} place-hours per search: narrow the window or add place_country:"
)
_EXAMPLE_TIME = "2026-12-01T05:00:00Z"


class _BadParameter(Exception):
    def __init__(self, parameter: str, value: str, message: str) -> None:
        super().__init__(message)
        self.answer = invalid(parameter, value, message)


def search_answer(world: World, query: Query, now_ms: int) -> Answer:
    """GET /2/tweets/search/recent?query=&start_time=&end_time=&since_id=&until_id=&next_token=
    &max_results=10..100&tweet.fields="""
    try:
        parsed = _parsed(query)
        limit = _limit(query)
        low, high = _id_bounds(query)
        start_ms, end_ms = _window(query, now_ms)
        if place_hours(parsed, start_ms, end_ms) > MAX_PLACE_HOURS:
            raise _BadParameter("start_time", query.get("start_time", ""), _TOO_WIDE)
    except _BadParameter as err:
        return err.answer
    matched = _matched(world, parsed, start_ms // HOUR_MS, (end_ms - 1) // HOUR_MS)
    rows = _slice(matched, max(low, _id_at(start_ms)), min(high, _id_at(end_ms)), limit + 1)
    return tweet_page(rows, limit, tweet_fields(query))


async def handle_search(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return json_answer(search_answer(state.world, request.query, state.now_ms()))


def _parsed(query: Query) -> TweetQuery:
    text = query.get("query", "")
    try:
        return parse_query(text)
    except QueryError as err:
        raise _BadParameter("query", text, f"There were errors processing your request: {err.message}") from err


def _limit(query: Query) -> int:
    limit = int_param(query, "max_results", 10, 10, 100)
    if limit is None:
        raise _BadParameter("max_results", query.get("max_results", ""), "max_results must be within [10, 100]")
    return limit


def _window(query: Query, now_ms: int) -> tuple[int, int]:
    """[start_ms, end_ms) of the search (see the module docstring for the defaults and the limits)."""
    if "end_time" in query:
        end_ms = _time_param(query, "end_time")
    else:  # X's default is now; without a start either, the last whole hour ends the default window
        end_ms = now_ms if "start_time" in query else now_ms - now_ms % HOUR_MS
    if "start_time" in query:
        start_ms = _time_param(query, "start_time")
    else:  # the hour boundary at or after end_time, less two hours
        start_ms = -(-end_ms // HOUR_MS) * HOUR_MS - DEFAULT_SPAN_HOURS * HOUR_MS
    if end_ms > now_ms:
        raise _BadParameter("end_time", query.get("end_time", ""), "'end_time' must not be after the request time")
    if start_ms < now_ms - RECENT_MS:
        oldest = iso_millis(now_ms - RECENT_MS)
        raise _BadParameter("start_time", query.get("start_time", ""), f"'start_time' must be on or after {oldest}")
    if start_ms >= end_ms:
        raise _BadParameter("start_time", query.get("start_time", ""), "'start_time' must be before 'end_time'")
    return start_ms, end_ms


def _time_param(query: Query, name: str) -> int:
    """An ISO 8601 instant with a zone ("2026-12-01T05:00:00Z", "...05:00:00.000Z", "...+00:00") in epoch ms."""
    raw = query[name]
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        message = f"Invalid '{name}':'{raw}'. '{name}' must be an ISO 8601 time, e.g. {_EXAMPLE_TIME}"
        raise _BadParameter(name, raw, message)
    return round(when.timestamp() * 1000)


def _id_bounds(query: Query) -> tuple[int, int]:
    """[low, high) of tweet ids from since_id (exclusive), until_id (exclusive) and next_token (the last id of
    the page before)."""
    since_id = int_param(query, "since_id", 0, 0, 2**63)
    until_id = int_param(query, "until_id", 2**63, 0, 2**63)
    if since_id is None or until_id is None:
        raise _BadParameter("since_id", query.get("since_id", query.get("until_id", "")), "an id is out of range")
    high = until_id
    if "next_token" in query:
        before = decode_cursor(query["next_token"])
        if before is None:
            raise _BadParameter("next_token", query["next_token"], "next_token is not one this API gave")
        high = min(high, before)
    return since_id + 1, high


def _id_at(ms: int) -> int:
    """The smallest tweet id created at `ms` or later (ids are snowflakes: time in the high bits)."""
    return (ms - TWEPOCH_MS) << 22


def _slice(matched: tuple[WorldTweet, ...], low: int, high: int, most: int) -> list[Row]:
    """Up to `most` of the newest matches with ids in [low, high): two binary searches, whatever the total."""
    first = bisect_right(matched, -high, key=_descending)
    last = bisect_right(matched, -low, key=_descending)
    return [_row(t) for t in matched[first : min(last, first + most)]]


def _descending(tweet: WorldTweet) -> int:
    return -tweet.tweet_id


# A worldwide result of ~3 place-hours x 170 places holds up to ~300k references: keep only a few.
@lru_cache(maxsize=16)
def _matched(world: World, query: TweetQuery, first_hour: int, last_hour: int) -> tuple[WorldTweet, ...]:
    """Every tweet of the whole hours [first_hour, last_hour] that matches, newest first."""
    return tuple(world.search_tweets(query, first_hour * HOUR_MS, (last_hour + 1) * HOUR_MS))


def _row(tweet: WorldTweet) -> Row:
    return tweet.tweet_id, tweet.author_id, tweet.text, tweet.links, tweet.created_ms
