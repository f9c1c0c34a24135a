"""Posts: what each user shares, day by day from the world's epoch.

Each (user, day) bucket is computed on its own, so a window of posts costs only the days it spans. Within a user,
creation times are whole seconds (Graph reports seconds) and strictly increasing, which makes "since" filters and
cursors exact. Video links come in the many shapes people paste, all naming the same canonical id, and popular
videos are shared far more often than the rest (a Zipf pick).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from workloads.world.config import WorldConfig
from workloads.world.hashing import h64, normal, poisson, unit, zipf_index
from workloads.world.ids import snowflake, video_id
from workloads.world.words import FILLER, WORDS

DAY_MS = 86_400_000
MAX_POSTS_PER_DAY = 48  # a post number is day * 100 + k, so k must stay below 100
_ACTIVITY_SIGMA = 0.8

# The same video, pasted the ways people paste it: one of these per video link, picked per post.
VIDEO_LINK_FORMS = (
    "https://www.youtube.com/watch?v={id}",
    "https://youtu.be/{id}?t=42",
    "https://m.youtube.com/watch?v={id}&feature=share",
    "http://youtube.com/watch?v={id}",
    "https://www.youtube.com/shorts/{id}",
    "https://www.youtube.com/embed/{id}",
)


@dataclass(frozen=True, slots=True)
class WorldPost:
    """One post: `post_id` is Graph's "{user}_{n}", `snowflake` the time-ordered id X would give it."""

    post_id: str
    author_id: str
    snowflake: int
    created_ms: int
    text: str
    links: tuple[str, ...]


def iter_posts(config: WorldConfig, user: int, since_ms: int, until_ms: int) -> Iterator[WorldPost]:
    """Posts of `user` created within [since_ms, until_ms] (both inclusive), newest first."""
    first_day = max(0, (since_ms - config.epoch_ms) // DAY_MS)
    last_day = (until_ms - config.epoch_ms) // DAY_MS
    for day in range(last_day, first_day - 1, -1):
        for post in reversed(posts_on_day(config, user, day)):
            if since_ms <= post.created_ms <= until_ms:
                yield post


@lru_cache(maxsize=65_536)
def posts_on_day(config: WorldConfig, user: int, day: int) -> tuple[WorldPost, ...]:
    """The posts `user` made on day `day` after the epoch, oldest first."""
    rate = config.posts_per_day * _activity(config, user)
    count = poisson(unit(config.seed, "ppd", user, day), rate, MAX_POSTS_PER_DAY)
    day_start = config.epoch_ms + day * DAY_MS
    return tuple(
        _post(config, user, day * 100 + k, day_start + second * 1000)
        for k, second in enumerate(_seconds(config, user, day, count))
    )


def _activity(config: WorldConfig, user: int) -> float:
    """How much more (or less) than the mean this user posts; lognormal with mean 1, so the world mean holds."""
    return math.exp(_ACTIVITY_SIGMA * normal(config.seed, "activity", user) - _ACTIVITY_SIGMA**2 / 2)


def _seconds(config: WorldConfig, user: int, day: int, count: int) -> list[int]:
    """`count` distinct seconds within the day, ascending."""
    chosen: set[int] = set()
    draw = 0
    while len(chosen) < count:
        chosen.add(h64(config.seed, "second", user, day, draw) % 86_400)
        draw += 1
    return sorted(chosen)


def _post(config: WorldConfig, user: int, n: int, created_ms: int) -> WorldPost:
    link = _link(config, user, n)
    words = _sentence(config, user, n)
    return WorldPost(
        post_id=f"{user}_{n}",
        author_id=str(user),
        snowflake=snowflake(created_ms, config.seed, "post", user, n),
        created_ms=created_ms,
        text=f"{words} {link}" if link else words,
        links=(link,) if link else (),
    )


def _link(config: WorldConfig, user: int, n: int) -> str | None:
    u = unit(config.seed, "link", user, n)
    if u < config.video_link_share:
        index = zipf_index(unit(config.seed, "share", user, n), config.videos)
        form = VIDEO_LINK_FORMS[h64(config.seed, "form", user, n) % len(VIDEO_LINK_FORMS)]
        return form.format(id=video_id(config.seed, index))
    if u < config.video_link_share + config.other_link_share:
        return f"https://example.com/news/{h64(config.seed, 'news', user, n) % 100_000}"
    return None


def _sentence(config: WorldConfig, user: int, n: int) -> str:
    h = h64(config.seed, "text", user, n)
    length = 5 + h % 8
    picks = [h64(config.seed, "word", user, n, i) for i in range(length)]
    return " ".join(WORDS[p % len(WORDS)] if p & 1 else FILLER[p % len(FILLER)] for p in picks)
