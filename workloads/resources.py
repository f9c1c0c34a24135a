"""The stores and sources a pack's code uses, opened on first use and kept for the process.

On a Ray worker they are opened from a `ResourcesSource`: the head's `[packs]` settings as one small
picklable value shipped with the job types, so every worker talks to the stores the head chose (a worker's
own environment cannot point a job elsewhere). Relative SQLite paths are made absolute on the head.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from scheduler.errors import ConfigError, StoreUnavailableError
from workloads.settings import PacksSettings, secret_value
from workloads.store_urls import SQLITE_PREFIX

if TYPE_CHECKING:
    from workloads.archive import Archive
    from workloads.crawl_state import CrawlState
    from workloads.index import VideoIndex
    from workloads.rankings import Rankings
    from workloads.sources.facebook import GraphClient
    from workloads.sources.types import UserTokens
    from workloads.sources.videos import VideoPages
    from workloads.sources.x import XClient


class Resources:
    def __init__(self, settings: PacksSettings) -> None:
        self.settings = settings

    @cached_property
    def index(self) -> VideoIndex:
        from workloads.index import open_index

        with _opening("packs.index", "EBBFLOW_PACKS__INDEX"):
            return open_index(secret_value(self.settings.index))

    @cached_property
    def rankings(self) -> Rankings:
        from workloads.rankings import open_rankings

        with _opening("packs.rankings", "EBBFLOW_PACKS__RANKINGS"):
            return open_rankings(secret_value(self.settings.rankings))

    @cached_property
    def crawl_state(self) -> CrawlState:
        """The related-video crawls' shared state, kept beside the rankings (the same SQLite file or Redis)."""
        from workloads.crawl_state import open_crawl_state

        with _opening("packs.rankings", "EBBFLOW_PACKS__RANKINGS"):
            return open_crawl_state(secret_value(self.settings.rankings))

    @cached_property
    def archive(self) -> Archive:
        from workloads.archive import Archive

        with _opening("packs.archive", "EBBFLOW_PACKS__ARCHIVE"):
            return Archive.from_uri(self.settings.archive)

    @cached_property
    def facebook(self) -> GraphClient:
        from workloads.sources.facebook import GraphClient
        from workloads.sources.ratelimit import RetryPolicy

        fb = self.settings.facebook
        return GraphClient(
            base_url=self.settings.base_url(fb),
            access_token=self.settings.credential(fb.access_token),
            version=fb.version,
            timeout_s=fb.timeout_s,
            policy=RetryPolicy(max_wait_s=fb.max_rate_wait_s),
        )

    @cached_property
    def facebook_tokens(self) -> UserTokens | None:
        """The app's per-user Facebook tokens (`packs.facebook.user_tokens`), None when not configured."""
        from workloads.user_tokens import load_user_tokens

        spec = self.settings.facebook.user_tokens
        return load_user_tokens(spec) if spec is not None else None

    @cached_property
    def x(self) -> XClient:
        from workloads.sources.x import XClient

        x = self.settings.x
        return XClient(
            base_url=self.settings.base_url(x),
            bearer_token=self.settings.credential(x.bearer_token),
            timeout_s=x.timeout_s,
            max_wait_s=x.max_rate_wait_s,
        )

    @cached_property
    def videos(self) -> VideoPages:
        from workloads.sources.ratelimit import RetryPolicy
        from workloads.sources.videos import VideoPages

        videos = self.settings.videos
        return VideoPages(
            base_url=self.video_base_url,
            api_base_url=self.settings.video_api_base_url(),
            api_key=self.settings.credential(videos.api_key),
            timeout_s=videos.timeout_s,
            policy=RetryPolicy(max_wait_s=videos.max_rate_wait_s),
        )

    @property
    def video_base_url(self) -> str:
        return self.settings.base_url(self.settings.videos)

    def close(self) -> None:
        for name in ("index", "rankings", "crawl_state", "facebook", "x", "videos"):
            opened = self.__dict__.pop(name, None)
            if opened is not None:
                opened.close()


@contextmanager
def _opening(field: str, env: str) -> Iterator[None]:
    """A bad URL is a ConfigError and an unreachable server a StoreUnavailableError, each naming the setting;
    neither message quotes the URL, which may hold a password."""
    import pymysql
    import redis

    try:
        yield
    except ValueError as err:
        raise ConfigError(str(err)) from None
    except (pymysql.MySQLError, redis.RedisError, sqlite3.Error, OSError) as err:
        problem = " ".join(str(err).split())
        raise StoreUnavailableError(f"{field}: cannot open it ({type(err).__name__}: {problem}); check {env}") from err


@dataclass(frozen=True)
class ResourcesSource:
    """The head's `[packs]` settings, secrets included, as JSON: hashable, picklable, opened once per process."""

    settings_json: str

    @classmethod
    def from_settings(cls, settings: PacksSettings) -> ResourcesSource:
        data = settings.model_dump(mode="json")
        for secret in ("index", "rankings"):
            data[secret] = _absolute(secret_value(getattr(settings, secret)))
        if "://" not in settings.archive:  # a folder relative to the head's working directory
            data["archive"] = str(Path(settings.archive).resolve())
        for source in ("facebook", "x", "videos"):
            for field, value in getattr(settings, source):
                if isinstance(value, SecretStr):
                    data[source][field] = value.get_secret_value()
        return cls(json.dumps(data, sort_keys=True))

    def settings(self) -> PacksSettings:
        return PacksSettings.model_validate_json(self.settings_json)

    def __repr__(self) -> str:  # the JSON holds credentials
        return "ResourcesSource(...)"


_OPEN: dict[ResourcesSource, Resources] = {}


def resources_for(source: ResourcesSource) -> Resources:
    if source not in _OPEN:
        _OPEN[source] = Resources(source.settings())
    return _OPEN[source]


def close_all() -> None:
    """Close every store and client this process opened for jobs, and the URL checker's thread."""
    from workloads.stale_videos.checker import close_checker

    while _OPEN:
        _OPEN.popitem()[1].close()
    close_checker()


def _absolute(url: str) -> str:
    if url.startswith(SQLITE_PREFIX) and not url.startswith(SQLITE_PREFIX + "/"):
        return SQLITE_PREFIX + str(Path(url.removeprefix(SQLITE_PREFIX)).resolve())
    return url
