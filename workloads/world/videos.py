"""Videos: metadata, liveness and related-video links, each a pure function of the index.

A share of videos is gone (`dead_share`), split evenly between the five ways a dead link shows up: a 404, a 410,
a 200 page whose player says ERROR ("unavailable": removed), a private video (LOGIN_REQUIRED), and a live stream
whose recording is not available (UNPLAYABLE, live). Of the live ones, `RESTRICTED_SHARE` carry a restriction
that makes the page look unplayable without the video being gone: an age gate or a region block. Related links
mix a video's neighbours (the same channel's catalogue) with popular videos, so a breadth-first crawl both
spreads and keeps hitting the same hubs, which is what its dedupe must absorb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from workloads.world.config import WorldConfig
from workloads.world.hashing import h64, normal, unit, zipf_index
from workloads.world.ids import video_id
from workloads.world.words import WORDS

_TWO64 = float(1 << 64)
VideoStatus = Literal["alive", "404", "410", "unavailable", "private", "recording-unavailable"]
Restriction = Literal["age-restricted", "region-blocked"]
DEAD_KINDS: tuple[VideoStatus, ...] = ("404", "410", "unavailable", "private", "recording-unavailable")
RESTRICTIONS: tuple[Restriction, ...] = ("age-restricted", "region-blocked")
RESTRICTED_SHARE = 0.04  # of live videos, split evenly between the restrictions
VIDEOS_PER_CHANNEL = 20
_NEIGHBOUR_SPAN = 50
_UPLOAD_SPAN_S = 3 * 365 * 86_400


@dataclass(frozen=True, slots=True)
class WorldVideo:
    """One video as its page would show it; `related` are ids of other videos of this world. `status` is alive or
    how its death shows; a live video may carry a `restriction` (its page is not playable to everyone)."""

    video_id: str
    index: int
    title: str
    channel: str
    duration_s: int
    status: VideoStatus
    related: tuple[str, ...]
    published_ms: int
    restriction: Restriction | None = None


@lru_cache(maxsize=262_144)
def video_at(config: WorldConfig, index: int) -> WorldVideo:
    """The video with this index (0 <= index < config.videos)."""
    return WorldVideo(
        video_id=video_id(config.seed, index),
        index=index,
        title=title(config, index),
        channel=channel_name(config, index // VIDEOS_PER_CHANNEL),
        duration_s=_duration_s(config, index),
        status=status(config, index),
        related=tuple(video_id(config.seed, i) for i in related_indices(config, index)),
        published_ms=published_ms(config, index),
        restriction=restriction(config, index),
    )


def status(config: WorldConfig, index: int) -> VideoStatus:
    """Whether the video is alive, and if not, how its death shows."""
    u = unit(config.seed, "status", index)
    if u >= config.dead_share:
        return "alive"
    kinds = len(DEAD_KINDS)
    return DEAD_KINDS[min(kinds - 1, int(u / config.dead_share * kinds))]


def restriction(config: WorldConfig, index: int) -> Restriction | None:
    """The restriction on a live video's page, if any (None for dead videos too)."""
    u = unit(config.seed, "restriction", index)
    if u >= RESTRICTED_SHARE or status(config, index) != "alive":
        return None
    return RESTRICTIONS[min(len(RESTRICTIONS) - 1, int(u / RESTRICTED_SHARE * len(RESTRICTIONS)))]


def related_indices(config: WorldConfig, index: int) -> list[int]:
    """`related_per_video` distinct indices other than `index`: odd draws are neighbours, even ones popular."""
    chosen: dict[int, None] = {}
    draw = 0
    while len(chosen) < config.related_per_video:
        h = h64(config.seed, "related", index, draw)
        if draw & 1:
            candidate = (index + 1 + h % _NEIGHBOUR_SPAN) % config.videos
        else:
            candidate = zipf_index(h / _TWO64, config.videos)
        draw += 1
        if candidate != index:
            chosen[candidate] = None
    return list(chosen)


def published_ms(config: WorldConfig, index: int) -> int:
    """When the video was uploaded: a whole second within the three years before the world's epoch."""
    return config.epoch_ms - (1 + h64(config.seed, "published", index) % _UPLOAD_SPAN_S) * 1000


def channel_name(config: WorldConfig, channel: int) -> str:
    h = h64(config.seed, "channel", channel)
    return f"{WORDS[h % len(WORDS)].title()} {WORDS[(h >> 20) % len(WORDS)].title()} TV"


def title(config: WorldConfig, index: int) -> str:
    """A video's title: three to six words, the first capitalised."""
    h = h64(config.seed, "title", index)
    words = [WORDS[(h >> (8 + 9 * i)) % len(WORDS)] for i in range(3 + h % 4)]  # one hash, 9 bits a word
    return " ".join(words).capitalize()


def _duration_s(config: WorldConfig, index: int) -> int:
    """Lognormal around four minutes: mostly short clips, a tail of hour-long streams."""
    return max(5, min(36_000, round(240 * math.exp(1.1 * normal(config.seed, "duration", index)))))
