"""The social networks a user may connect, behind one small port: a page of the user's friends, then the
friends' posts since a cursor, and the cursor to save once every page is done.

Facebook's cursor is the time (ms) of the newest post seen; X's is the newest post id (ids are time-ordered,
and `since_id` is what the API filters by). Either way a later fetch asks only for what is new.

On Facebook an app sees only the friends who use it, and reads each one's feed with that friend's own token
(docs/api-graph.md). The app's tokens come from a `UserTokens` lookup: against the emulator, the tokens its world
issues; in production, the deployer's token store. A friend without a stored token is skipped and counted, as
is one Graph says is gone or whose grant it refuses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from workloads.resources import Resources
from workloads.social_graph.pack import NetworkName
from workloads.sources.facebook import GraphClient
from workloads.sources.types import Friend, Page, Post, Secret, UserTokens
from workloads.sources.x import XClient
from workloads.world.users import graph_token

log = logging.getLogger(__name__)

FRIENDS_PER_PAGE = 100  # one checkpoint per page: a preempted job repeats at most this many friends
X_THREADS = 8  # X has no batch endpoint: one request per friend, a few at a time


@dataclass(frozen=True, slots=True)
class FriendPosts:
    """The posts of a page of friends, and how many of those friends could not be read: no token stored for
    them, or gone / refused by the network."""

    posts: list[Post]
    without_token: int = 0
    unreadable: int = 0


class Network(Protocol):
    def friends_page(self, user_id: str, after: str | None) -> Page[Friend]: ...

    def posts(self, friend_ids: Sequence[str], cursor: str | None, lookback_from_ms: int) -> FriendPosts: ...

    def advance(self, cursor: str | None, posts: Sequence[Post]) -> str | None: ...


class FacebookNetwork:
    def __init__(self, client: GraphClient, tokens: UserTokens) -> None:
        self.client = client
        self.tokens = tokens

    def friends_page(self, user_id: str, after: str | None) -> Page[Friend]:
        """The user's friends who use the app, asked with the user's own token (the client's when none)."""
        return self.client.friends_page(user_id, after, limit=FRIENDS_PER_PAGE, token=self.tokens(user_id))

    def posts(self, friend_ids: Sequence[str], cursor: str | None, lookback_from_ms: int) -> FriendPosts:
        since_ms = int(cursor) + 1 if cursor is not None else lookback_from_ms
        tokens: dict[str, Secret] = {}
        for friend in friend_ids:
            token = self.tokens(friend)
            if token is not None:
                tokens[friend] = token
        feeds = self.client.feeds(list(tokens), since_ms, tokens=tokens)
        posts = [post for friend in tokens for post in feeds.posts[friend]]
        return FriendPosts(posts, len(friend_ids) - len(tokens), len(feeds.gone) + len(feeds.refused))

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

    def posts(self, friend_ids: Sequence[str], cursor: str | None, lookback_from_ms: int) -> FriendPosts:
        with ThreadPoolExecutor(X_THREADS) as pool:
            pages = pool.map(lambda friend: self.client.user_posts(friend, since_id=cursor), friend_ids)
            posts = [post for page in pages for post in page]
        return FriendPosts(posts if cursor is not None else [p for p in posts if p.created_ms >= lookback_from_ms])

    def advance(self, cursor: str | None, posts: Sequence[Post]) -> str | None:
        ids = [int(post.post_id) for post in posts]
        if cursor is not None:
            ids.append(int(cursor))
        return str(max(ids)) if ids else None


def network(name: NetworkName, resources: Resources, facebook_tokens: UserTokens | None = None) -> Network:
    if name == "facebook":
        return FacebookNetwork(resources.facebook, facebook_tokens or stored_tokens(resources))
    return XNetwork(resources.x)


def stored_tokens(resources: Resources) -> UserTokens:
    """The app's per-user Facebook tokens: the configured store (`packs.facebook.user_tokens`), else against
    the emulator those its world issues; with neither, only the users' friends lists are read and every
    friend's feed is skipped and counted (docs/api-graph.md, "Tokens")."""
    configured = resources.facebook_tokens
    if configured is not None:
        return configured
    if resources.settings.emulator is not None:
        return graph_token
    log.warning("graph: no per-user token store is configured (packs.facebook.user_tokens); friends' feeds skipped")
    return _no_token


def _no_token(user_id: str) -> Secret | None:
    return None
