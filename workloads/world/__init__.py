"""A deterministic synthetic world: users with heavy-tailed social graphs, their posts, videos (some dead) with
related links, and X trends with the tweets behind them. Pure and seeded; no I/O."""

from workloads.world.config import DEFAULT_EPOCH_MS, WorldConfig
from workloads.world.posts import VIDEO_LINK_FORMS, WorldPost
from workloads.world.trends import WOEIDS, WorldTrend, WorldTweet
from workloads.world.videos import VideoStatus, WorldVideo
from workloads.world.world import UnknownUserError, World

__all__ = [
    "DEFAULT_EPOCH_MS",
    "VIDEO_LINK_FORMS",
    "WOEIDS",
    "UnknownUserError",
    "VideoStatus",
    "World",
    "WorldConfig",
    "WorldPost",
    "WorldTrend",
    "WorldTweet",
    "WorldVideo",
]
