"""Rankings: the port, its two backends, and `open_rankings(url)`.

URLs (the `packs.rankings` setting):

    sqlite:///relative/path.db             a file relative to the working directory (sqlite:////abs/path.db)
    redis://host:port/db?prefix=ebbflow:   port defaults to 6379, db to 0, prefix to "ebbflow:";
                                           redis://:password@host... or user:password@ for an ACL user
                                           (read by workloads.redis_urls, as the crawl state reads it)

Choices the contract (workloads.rankings.base) leaves open, decided here for both backends and pinned by
tests/workloads/contracts/:

* `add` counts the members new to the ranking before trimming: a new member too low to stay still counts.
  Trimming drops the members top() would list last (so, among tied scores, the greatest member first).
* A ranking exists while it has members: `names()` lists those, sorted; a ranking emptied by
  `remove_everywhere` is gone.
* `top(name, n)` with n <= 0 is empty.
"""

from __future__ import annotations

from workloads.rankings.base import DEFAULT_MAX_LEN, Rankings
from workloads.rankings.redis import RedisRankings
from workloads.rankings.sqlite import SQLiteRankings
from workloads.redis_urls import DEFAULT_PREFIX, open_redis_url
from workloads.redis_urls import SCHEMES as REDIS_SCHEMES
from workloads.store_urls import SQLITE_PREFIX, StoreUrl

__all__ = ["DEFAULT_MAX_LEN", "DEFAULT_PREFIX", "URL", "Rankings", "RedisRankings", "SQLiteRankings", "open_rankings"]

# The crawl state (workloads.crawl_state) lives where this setting points too, and reads it with this.
URL = StoreUrl("packs.rankings", "sqlite:///var/ebbflow/rankings.db or redis://127.0.0.1:6379/0?prefix=ebbflow:")


def open_rankings(url: str) -> Rankings:
    """Open the rankings a `packs.rankings` URL names; a malformed URL raises ValueError."""
    if url.startswith(SQLITE_PREFIX):
        return SQLiteRankings(URL.sqlite_path(url))
    if url.startswith(REDIS_SCHEMES):
        return RedisRankings(*open_redis_url(URL, url))
    raise URL.unsupported(url)
