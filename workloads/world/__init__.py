"""A deterministic synthetic world: users with heavy-tailed social graphs, their posts, videos (some dead) with
related links, X trends per place with the tweets behind them, and X's search syntax and a video search over them.
Pure and seeded; no I/O."""

from workloads.world.config import DEFAULT_EPOCH_MS, WorldConfig
from workloads.world.places import HOT_TOPIC_WOEIDS, PLACES, Place
from workloads.world.posts import VIDEO_LINK_FORMS, WorldPost
from workloads.world.query import Query, QueryError
from workloads.world.query import parse as parse_query
from workloads.world.trends import WOEIDS, WorldTrend, WorldTweet
from workloads.world.videos import VideoStatus, WorldVideo
from workloads.world.world import UnknownUserError, World

__all__ = [
    "DEFAULT_EPOCH_MS",
    "HOT_TOPIC_WOEIDS",
    "PLACES",
    "VIDEO_LINK_FORMS",
    "WOEIDS",
    "Place",
    "Query",
    "QueryError",
    "UnknownUserError",
    "VideoStatus",
    "World",
    "WorldConfig",
    "WorldPost",
    "WorldTrend",
    "WorldTweet",
    "WorldVideo",
    "parse_query",
]
