"""`World`: the one object the emulator and the tests ask about users, posts, videos and trends.

It holds nothing but its config; every answer is computed (and the costly ones memoised per config), so building
a World is free and two Worlds with equal configs always agree.
"""

from __future__ import annotations

from collections.abc import Iterator

from workloads.world import posts as _posts
from workloads.world import trends as _trends
from workloads.world import tweet_search as _tweet_search
from workloads.world import users as _users
from workloads.world import video_search as _video_search
from workloads.world import videos as _videos
from workloads.world.config import WorldConfig
from workloads.world.ids import user_number, video_index
from workloads.world.ids import video_id as _video_id
from workloads.world.places import PLACES, Place
from workloads.world.posts import WorldPost
from workloads.world.query import Query
from workloads.world.query import parse as parse_query
from workloads.world.trends import WorldTrend, WorldTweet
from workloads.world.videos import WorldVideo


class UnknownUserError(LookupError):
    """The id names no user of this world."""

    def __init__(self, user_id: str) -> None:
        super().__init__(f"no user {user_id!r} in this world")
        self.user_id = user_id


class World:
    """A deterministic synthetic world derived from a `WorldConfig`."""

    def __init__(self, config: WorldConfig | None = None) -> None:
        self.config = config if config is not None else WorldConfig()

    def __repr__(self) -> str:
        return f"World({self.config!r})"

    # Equal configs are the same world, so caches keyed by a World are shared between equal ones.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, World) and other.config == self.config

    def __hash__(self) -> int:
        return hash(self.config)

    # -- users -------------------------------------------------------------------------------------------------

    def is_user(self, user_id: str) -> bool:
        return user_number(user_id, self.config.users) is not None

    def degree(self, user_id: str) -> int:
        return _users.degree(self.config, self._user(user_id))

    def friends(self, user_id: str) -> list[str]:
        """Ids this user follows, distinct, never the user, in a stable order."""
        return list(_users.friends(self.config, self._user(user_id)))

    def user_name(self, user_id: str) -> str:
        return _users.user_name(self.config, self._user(user_id))

    def user_with_degree(self, n: int) -> str:
        """The first user id whose degree is exactly `n` (LookupError when none within the first 1M users)."""
        return str(_users.user_with_degree(self.config, n))

    # -- posts -------------------------------------------------------------------------------------------------

    def posts(self, user_id: str, since_ms: int, until_ms: int) -> list[WorldPost]:
        """Posts created within [since_ms, until_ms], newest first."""
        return list(self.iter_posts(user_id, since_ms, until_ms))

    def iter_posts(self, user_id: str, since_ms: int, until_ms: int) -> Iterator[WorldPost]:
        """Like `posts`, lazily: a page of the newest posts costs only the days it spans."""
        return _posts.iter_posts(self.config, self._user(user_id), since_ms, until_ms)

    # -- videos ------------------------------------------------------------------------------------------------

    def video_id(self, index: int) -> str:
        """The id of video `index` (0 <= index < videos)."""
        if not 0 <= index < self.config.videos:
            raise IndexError(f"video index {index} is outside 0..{self.config.videos - 1}")
        return _video_id(self.config.seed, index)

    def video(self, video_id: str) -> WorldVideo | None:
        """The video with this id, or None for an id that is not in this world."""
        index = video_index(self.config.seed, video_id)
        if index is None or index >= self.config.videos:
            return None
        return _videos.video_at(self.config, index)

    def search_videos(self, query: str, limit: int) -> list[WorldVideo]:
        """Up to `limit` alive videos for a search, best first: the videos of the topics whose name and context
        words the query has most of, then videos with query words in their titles (rule: world.video_search)."""
        return _video_search.search(self.config, query, limit)

    # -- X trends ----------------------------------------------------------------------------------------------

    def woeids(self) -> dict[int, str]:
        """The places that have trends: WOEID -> name."""
        return dict(_trends.WOEIDS)

    def place(self, woeid: int) -> Place | None:
        """The place with this WOEID (its name, country code and kind), None when it has no trends."""
        return PLACES.get(woeid)

    def trends(self, woeid: int, hour_ms: int) -> list[WorldTrend]:
        """Trends of a place in the hour containing `hour_ms`, biggest first (empty for unknown places)."""
        return list(_trends.trends(self.config, woeid, hour_ms // _trends.HOUR_MS))

    def trend_videos(self, trend: WorldTrend) -> list[WorldVideo]:
        """The videos people share about the trend's topic, alive or not (the oracle of the hot-topics tests)."""
        return [_videos.video_at(self.config, index) for index in _trends.topic_videos(self.config, trend.topic)]

    def tweets(self, woeid: int, hour_ms: int, query: str | None = None) -> list[WorldTweet]:
        """Tweets behind the place's trends in that hour (posted in the hour before), newest first; `query` (X's
        search syntax, see world.query; QueryError when malformed) keeps those it matches."""
        hour_tweets = _trends.tweets(self.config, woeid, hour_ms // _trends.HOUR_MS)
        if query is None:
            return list(hour_tweets)
        parsed = parse_query(query)
        return [t for t in hour_tweets if parsed.matches(_tweet_search.doc(t))]

    def search_tweets(self, query: str | Query, start_ms: int, end_ms: int) -> list[WorldTweet]:
        """Every tweet created within [start_ms, end_ms) that the query matches, in any place, newest first
        (QueryError when the query is malformed). Cost: every place-hour the window spans, unless the query
        names countries with place_country:."""
        parsed = query if isinstance(query, Query) else parse_query(query)
        return _tweet_search.search(self.config, parsed, start_ms, end_ms)

    def _user(self, user_id: str) -> int:
        number = user_number(user_id, self.config.users)
        if number is None:
            raise UnknownUserError(user_id)
        return number
