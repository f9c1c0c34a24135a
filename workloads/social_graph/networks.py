"""The social networks a user may connect, behind one small port: a page of the user's friends, then the
friends' posts since a cursor, and the cursor to save once every page is done.

Facebook's cursor is the time (ms) of the newest post seen; X's is the newest post id (ids are time-ordered,
and `since_id` is what the API filters by). Either way a later fetch asks only for what is new.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from workloads.resources import Resources
from workloads.social_graph.pack import NetworkName
from workloads.sources.facebook import GraphClient
from workloads.sources.types import Friend, Page, Post
from workloads.sources.x import XClient

FRIENDS_PER_PAGE = 100  # one checkpoint per page: a preempted job repeats at most this many friends
X_THREADS = 8  # X has no batch endpoint: one request per friend, a few at a time


class Network(Protocol):
    def friends_page(self, user_id: str, after: str | None) -> Page[Friend]: ...

    def posts(self, friend_ids: Sequence[str], cursor: str | None, lookback_from_ms: int) -> list[Post]: ...

    def advance(self, cursor: str | None, posts: Sequence[Post]) -> str | None: ...


class FacebookNetwork:
    def __init__(self, client: GraphClient) -> None:
        self.client = client

    def friends_page(self, user_id: str, after: str | None) -> Page[Friend]:
        return self.client.friends_page(user_id, after, limit=FRIENDS_PER_PAGE)

    def posts(self, friend_ids: Sequence[str], cursor: str | None, lookback_from_ms: int) -> list[Post]:
        since_ms = int(cursor) + 1 if cursor is not None else lookback_from_ms
        feeds = self.client.feeds(friend_ids, since_ms)
        return [post for friend in friend_ids for post in feeds.get(friend, [])]

    def advance(self, cursor: str | None, posts: Sequence[Post]) -> str | None:
        newest = max((post.created_ms for post in posts), default=None)
        if newest is None:
            return cursor
        return str(newest) if cursor is None else str(max(int(cursor), newest))


class XNetwork:
    def __init__(self, client: XClient) -> None:
        self.client = client

    def friends_page(self, user_id: str, after: str | None) -> Page[Friend]:
        return self.client.following_page(user_id, after, max_results=FRIENDS_PER_PAGE)

    def posts(self, friend_ids: Sequence[str], cursor: str | None, lookback_from_ms: int) -> list[Post]:
        with ThreadPoolExecutor(X_THREADS) as pool:
            pages = pool.map(lambda friend: self.client.user_posts(friend, since_id=cursor), friend_ids)
            posts = [post for page in pages for post in page]
        return posts if cursor is not None else [post for post in posts if post.created_ms >= lookback_from_ms]

    def advance(self, cursor: str | None, posts: Sequence[Post]) -> str | None:
        ids = [int(post.post_id) for post in posts]
        if cursor is not None:
            ids.append(int(cursor))
        return str(max(ids)) if ids else None


def network(name: NetworkName, resources: Resources) -> Network:
    if name == "facebook":
        return FacebookNetwork(resources.facebook)
    return XNetwork(resources.x)
