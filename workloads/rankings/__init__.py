"""Rankings: the port, its two backends, and `open_rankings(url)`.

URLs (the `packs.rankings` setting):

    sqlite:///relative/path.db             a file relative to the working directory (sqlite:////abs/path.db)
    redis://host:port/db?prefix=ebbflow:   port defaults to 6379, db to 0, prefix to "ebbflow:";
                                           redis://:password@host... or user:password@ for an ACL user

Choices the contract (workloads.rankings.base) leaves open, decided here for both backends and pinned by
tests/workloads/contracts/:

* `add` counts the members new to the ranking before trimming: a new member too low to stay still counts.
  Trimming drops the members top() would list last (so, among tied scores, the greatest member first).
* A ranking exists while it has members: `names()` lists those, sorted; a ranking emptied by
  `remove_everywhere` is gone.
* `top(name, n)` with n <= 0 is empty.
"""

from __future__ import annotations

from urllib.parse import SplitResult, parse_qs, unquote

# Not `import redis`: importing the submodule workloads.rankings.redis rebinds that name in this package.
from redis import Redis

from workloads.rankings.base import DEFAULT_MAX_LEN, Rankings
from workloads.rankings.redis import RedisRankings
from workloads.rankings.sqlite import SQLiteRankings
from workloads.store_urls import SQLITE_PREFIX, StoreUrl

__all__ = ["DEFAULT_MAX_LEN", "DEFAULT_PREFIX", "Rankings", "RedisRankings", "SQLiteRankings", "open_rankings"]

URL = StoreUrl("packs.rankings", "sqlite:///var/ebbflow/rankings.db or redis://127.0.0.1:6379/0?prefix=ebbflow:")
DEFAULT_PREFIX = "ebbflow:"


def open_rankings(url: str) -> Rankings:
    """Open the rankings a `packs.rankings` URL names; a malformed URL raises ValueError."""
    if url.startswith(SQLITE_PREFIX):
        return SQLiteRankings(URL.sqlite_path(url))
    if url.startswith("redis://"):
        return _open_redis(url)
    raise URL.unsupported(url)


def _open_redis(url: str) -> RedisRankings:
    parts, port = URL.split(url, default_port=6379)
    if not parts.hostname:
        raise URL.bad("the redis URL has no host")
    prefix, db = _prefix(parts), _db(parts.path)  # validate everything before building a client
    client = Redis(
        host=parts.hostname,
        port=port,
        db=db,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        decode_responses=True,
    )
    return RedisRankings(client, prefix)


def _db(path: str) -> int:
    db = path.removeprefix("/")
    if not db:
        return 0
    if not db.isdigit():
        raise URL.bad("the redis URL's path must be a database number, like /0")
    return int(db)


def _prefix(parts: SplitResult) -> str:
    if parts.fragment:
        raise URL.bad("the redis URL takes no fragment")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as err:
        raise URL.bad("the redis URL's query string is malformed") from err
    unknown = sorted(set(query) - {"prefix"})
    if unknown:
        raise URL.bad(f"unknown redis URL parameter {unknown[0]!r}; only prefix is known")
    values = query.get("prefix", [DEFAULT_PREFIX])
    if len(values) != 1:
        raise URL.bad("the redis URL gives prefix more than once")
    return values[0]
