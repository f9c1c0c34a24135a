"""Source adapters: real clients of the Facebook Graph API, the X API (via tweepy) and video pages.

Production points them at the real APIs; tests and the demo point them at the emulator (workloads.emulator).
"""

from workloads.sources.errors import (
    AccessDeniedError,
    BadResponseError,
    NotFoundError,
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
    UsageCappedError,
)
from workloads.sources.facebook import GraphClient
from workloads.sources.liveness import UNAVAILABLE_MARKER, Liveness, classify
from workloads.sources.ratelimit import RetryPolicy, send_with_retry, wait_s
from workloads.sources.types import Friend, Page, Post, Secret, Trend, VideoMeta
from workloads.sources.urls import video_id_from_url, video_ids_in, watch_url
from workloads.sources.videos import VideoPages
from workloads.sources.watch_page import WatchPage, parse_watch_page
from workloads.sources.x import XClient

__all__ = [
    "UNAVAILABLE_MARKER",
    "AccessDeniedError",
    "BadResponseError",
    "Friend",
    "GraphClient",
    "Liveness",
    "NotFoundError",
    "Page",
    "Post",
    "RateLimitedError",
    "RetryPolicy",
    "Secret",
    "SourceError",
    "SourceUnavailableError",
    "Trend",
    "UsageCappedError",
    "VideoMeta",
    "VideoPages",
    "WatchPage",
    "XClient",
    "classify",
    "parse_watch_page",
    "send_with_retry",
    "video_id_from_url",
    "video_ids_in",
    "wait_s",
    "watch_url",
]
