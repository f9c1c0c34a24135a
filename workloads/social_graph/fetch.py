"""One user's fetch: for each connected network, page through the friends, take their posts since the saved
cursor, keep the video links, upsert the videos and add them to the user's social stream.

A checkpoint is saved after every page of friends, so a preempted job resumes at the next page; the network's
cursor is saved in the index only when its last page is done, so a job that dies midway asks again for the
same posts (upserts and stream adds are idempotent) rather than skipping any.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from dispatcher.context import JobInterrupted
from scheduler.job import JSONValue
from workloads.index import VideoIndex, VideoRecord
from workloads.rankings import Rankings
from workloads.social_graph.networks import Network
from workloads.social_graph.pack import NetworkName
from workloads.sources.types import Post
from workloads.sources.urls import video_ids_in, watch_url

CANONICAL_VIDEO_BASE = "https://www.youtube.com"  # the index keeps the public URL, whatever the sources talk to
DAY_MS = 86_400_000


def stream_name(user_id: str) -> str:
    return f"stream:{user_id}"


@dataclass
class Progress:
    """The checkpoint: networks finished, where the current one is, and running totals."""

    done: list[str] = field(default_factory=list)
    network: str | None = None
    after: str | None = None  # the next page of friends
    cursor: str | None = None  # the cursor this run reads from (the saved one, or none)
    newest: str | None = None  # the cursor to save once the network is done
    pages: int = 0
    posts: int = 0
    videos: int = 0
    friends_without_token: int = 0  # skipped: the app holds no token of theirs (Facebook)
    friends_unreadable: int = 0  # skipped: gone, or their grant refused by the network

    @classmethod
    def from_checkpoint(cls, value: JSONValue | None) -> Progress:
        return cls(**value) if isinstance(value, dict) else cls()

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class UserFetch:
    user_id: str
    index: VideoIndex
    rankings: Rankings
    now_ms: int
    lookback_days: int
    save: Callable[[JSONValue], None]
    stop_requested: Callable[[], bool] = lambda: False
    report: Callable[[JSONValue], None] = lambda _: None  # `ebbflow jobs show` prints the latest

    def run(self, networks: Sequence[tuple[NetworkName, Network]], progress: Progress) -> Progress:
        for name, network in networks:
            if name in progress.done:
                continue
            if progress.network != name:
                cursor = self.index.cursor(self.user_id, name)
                progress.network, progress.after, progress.cursor, progress.newest = name, None, cursor, cursor
            self._network(name, network, progress)
        return progress

    def _network(self, name: NetworkName, network: Network, progress: Progress) -> None:
        lookback_from = self.now_ms - self.lookback_days * DAY_MS
        while True:
            page = network.friends_page(self.user_id, progress.after)
            found = network.posts([friend.id for friend in page.items], progress.cursor, lookback_from)
            progress.videos += self._keep(found.posts)
            progress.posts += len(found.posts)
            progress.friends_without_token += found.without_token
            progress.friends_unreadable += found.unreadable
            progress.pages += 1
            progress.newest = network.advance(progress.newest, found.posts)
            progress.after = page.next_cursor
            self.report({"network": name, "pages": progress.pages, "posts": progress.posts, "videos": progress.videos})
            if page.next_cursor is None:
                break
            self.save(progress.as_json())
            if self.stop_requested():
                raise JobInterrupted(f"node draining; resumes {name} at the next page of friends")
        if progress.newest is not None:
            self.index.save_cursor(self.user_id, name, progress.newest)
        progress.done.append(name)
        progress.network = progress.after = progress.cursor = progress.newest = None
        self.save(progress.as_json())

    def _keep(self, posts: Sequence[Post]) -> int:
        """Upsert the posts' videos and add them to the stream (scored by the newest post sharing each)."""
        newest: dict[str, int] = {}
        for post in posts:
            for video_id in video_ids_in(post.text, post.links):
                newest[video_id] = max(newest.get(video_id, 0), post.created_ms)
        if not newest:
            return 0
        records = [VideoRecord(vid, watch_url(CANONICAL_VIDEO_BASE, vid), seen_ms=ms) for vid, ms in newest.items()]
        self.index.upsert_videos(records)
        self.rankings.add(stream_name(self.user_id), {vid: float(ms) for vid, ms in newest.items()})
        return len(newest)
