"""The knobs of the synthetic world: its size, its seed and the shape of its traffic.

A config is the whole identity of a world: two processes with equal configs compute the same users, posts, videos
and trends, so a head node and a worker (or a test and the emulator it talks to) agree without sharing anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from workloads.world.ids import MAX_SEQUENCE

# 2026-11-01T00:00:00Z: posts start at this instant; before it the world is silent.
DEFAULT_EPOCH_MS = 1_793_491_200_000


@dataclass(frozen=True, slots=True)
class WorldConfig:
    """Everything a world is derived from; equal configs give equal worlds."""

    seed: int = 7
    users: int = 100_000
    videos: int = 1_000_000
    # Share of videos that are gone, split evenly between a 404, a 410 and a 200 "Video unavailable" page.
    dead_share: float = 0.08
    epoch_ms: int = DEFAULT_EPOCH_MS
    # Mean posts per user per day; each user's own rate varies around it (some users post far more).
    posts_per_day: float = 0.5
    # Share of posts that carry a video link; a further `other_link_share` carry a non-video link.
    video_link_share: float = 0.4
    other_link_share: float = 0.15
    related_per_video: int = 8
    # Tweets behind one place's trends in one hour, spread over its ten trends with a heavy head.
    tweets_per_place_hour: int = 600
    # Share of users who use the Facebook app (granted it a token): Graph lists only these as anyone's friends.
    graph_app_user_share: float = 0.3

    def __post_init__(self) -> None:
        if self.users < 2 or self.videos < self.related_per_video + 1:
            raise ValueError("a world needs at least 2 users and more videos than related_per_video")
        if not 0.0 <= self.dead_share <= 1.0:
            raise ValueError("dead_share must be within [0, 1]")
        if not 0.0 <= self.video_link_share + self.other_link_share <= 1.0:
            raise ValueError("video_link_share + other_link_share must be within [0, 1]")
        if not 0 < self.tweets_per_place_hour <= MAX_SEQUENCE:
            raise ValueError(f"tweets_per_place_hour must be within [1, {MAX_SEQUENCE}] (a tweet id's sequence bits)")
        if self.videos >= 1 << 63:
            raise ValueError("videos must fit in 63 bits (ids encode the index)")
