"""Users and their social graph: heavy-tailed degrees and deterministic friend lists.

Degrees are lognormal (median ~150, a long tail capped at 5000, the size of a real Facebook friend list) because
the social-graph pack must cope with the few users whose lists take many pages, not only the typical one. The
graph is directed (X's "following"); Facebook's symmetry is not modelled, since no pack depends on it.

Facebook's Graph API shows an app only the friends who use that app too, and reads a user's feed only with that
user's own grant. So a share of users (`graph_app_user_share`) use the app, and the app holds a token for each:
`graph_token` is a pure function of the user id (no seed), so a worker that knows only the emulator's URL holds
the same tokens the emulator accepts, as a real app holds its users' tokens in its own store.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache

from workloads.world.config import WorldConfig
from workloads.world.hashing import h64, normal, unit
from workloads.world.words import FIRST_NAMES, LAST_NAMES

DEGREE_MEDIAN = 150
DEGREE_SIGMA = 1.2
DEGREE_CAP = 5000
# user_with_degree gives up after this many users: a degree nobody has is a caller's mistake, not a long wait.
DEGREE_SCAN_LIMIT = 1_000_000
GRAPH_TOKEN_PREFIX = "EAAEmu"  # real user tokens start "EAA"; the rest says it was made here


def degree(config: WorldConfig, user: int) -> int:
    """How many accounts `user` follows (1..min(5000, users - 1))."""
    raw = DEGREE_MEDIAN * math.exp(DEGREE_SIGMA * normal(config.seed, "degree", user))
    return max(1, min(DEGREE_CAP, config.users - 1, round(raw)))


@lru_cache(maxsize=4096)
def friends(config: WorldConfig, user: int) -> tuple[str, ...]:
    """The ids `user` follows, distinct and never `user` itself, in a stable order."""
    wanted = degree(config, user)
    chosen: dict[int, None] = {}  # insertion-ordered set
    draw = 0
    while len(chosen) < wanted:
        candidate = 1 + h64(config.seed, "friend", user, draw) % config.users
        draw += 1
        if candidate != user:
            chosen[candidate] = None
    return tuple(str(n) for n in chosen)


def user_name(config: WorldConfig, user: int) -> str:
    """A display name ("Ada Okafor"); names repeat across users, as real ones do."""
    h = h64(config.seed, "name", user)
    return f"{FIRST_NAMES[h % len(FIRST_NAMES)]} {LAST_NAMES[(h >> 16) % len(LAST_NAMES)]}"


def user_with_degree(config: WorldConfig, n: int) -> int:
    """The first user whose degree is exactly `n`; LookupError when none is within the first 1M users."""
    for user in range(1, min(config.users, DEGREE_SCAN_LIMIT) + 1):
        if degree(config, user) == n:
            return user
    raise LookupError(f"no user with degree {n} among the first {min(config.users, DEGREE_SCAN_LIMIT)} users")


def uses_graph_app(config: WorldConfig, user: int) -> bool:
    """Whether `user` uses the Facebook app (so Graph lists them among the friends of the app's users)."""
    return unit(config.seed, "graph-app", user) < config.graph_app_user_share


@lru_cache(maxsize=4096)
def graph_app_friends(config: WorldConfig, user: int) -> tuple[str, ...]:
    """The friends of `user` who use the app, in `friends` order: what Graph's /{user}/friends lists."""
    return tuple(friend for friend in friends(config, user) if uses_graph_app(config, int(friend)))


def graph_token(user_id: str) -> str:
    """The user access token the app holds for `user_id` (whether or not that user uses the app: the emulator
    checks `uses_graph_app` itself)."""
    digest = hashlib.blake2b(f"ebbflow-graph-token|{user_id}".encode(), digest_size=12).hexdigest()
    return f"{GRAPH_TOKEN_PREFIX}{user_id}x{digest}"


def graph_token_owner(token: str) -> str | None:
    """The user id a token made by `graph_token` belongs to, None for any other token."""
    owner, _, _ = token.removeprefix(GRAPH_TOKEN_PREFIX).partition("x")
    return owner if token.startswith(GRAPH_TOKEN_PREFIX) and graph_token(owner) == token else None
