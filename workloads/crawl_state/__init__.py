"""CrawlState: the port, its two backends, and `open_crawl_state(url)`.

The crawl state lives where the rankings do, so it takes the `packs.rankings` URL (and its errors name that
setting), read by the same code (workloads.redis_urls, workloads.store_urls):

    sqlite:///path/rankings.db             the crawl tables in that same file, beside the rankings table
    redis://host:port/db?prefix=ebbflow:   that server, db and prefix: keys {prefix}crawl:{<name>}:... and
                                           {prefix}crawls, beside the rankings' {prefix}rank:... keys

Choices the contract (workloads.crawl_state.base) leaves open, decided here for both backends and pinned by
tests/workloads/contracts/test_crawl_state.py and test_crawl_state_lifecycle.py:

* Every method checks its arguments before any I/O and raises ValueError for a crawl name that does not match
  CRAWL_NAME, for caps out of range (max_depth < 0, max_videos < 1, bloom_error outside (0, 1), or a Bloom
  filter over Redis's 512 MB), for a negative seq, for a child_depth below 1 or a finish depth below 0, and
  for a start without seeds.
* start claims repeated seeds once, in first-seen order (seqs 0, 1, ...); seeds beyond max_videos count in
  cut_by_cap, as children cut by the cap do.
* A candidate repeated within one claim_children call counts once (so cut_by_depth counts distinct ones).
* is_done of an unknown crawl is False; delete of an unknown crawl does nothing.
* summary().depths runs from 0 to the deepest depth with a claimed or done count, zeros filled in.
* finish counts any claimed seq it is given (it does not check that the video claimed its children first); the
  crawl finishes the first time done reaches claimed.
* Dedupe "bloom" is exact on SQLite (workloads.crawl_state.sqlite says why); summary() still reports "bloom".
"""

from __future__ import annotations

from workloads.crawl_state.base import (
    CRAWL_NAME,
    ClaimResult,
    CrawlCaps,
    CrawlState,
    CrawlSummary,
    Dedupe,
    DepthCounts,
    FinishResult,
)
from workloads.crawl_state.redis import RedisCrawlState
from workloads.crawl_state.sqlite import SQLiteCrawlState
from workloads.rankings import URL as RANKINGS_URL
from workloads.redis_urls import SCHEMES as REDIS_SCHEMES
from workloads.redis_urls import open_redis_url
from workloads.store_urls import SQLITE_PREFIX

__all__ = [
    "CRAWL_NAME",
    "ClaimResult",
    "CrawlCaps",
    "CrawlState",
    "CrawlSummary",
    "Dedupe",
    "DepthCounts",
    "FinishResult",
    "RedisCrawlState",
    "SQLiteCrawlState",
    "open_crawl_state",
]


def open_crawl_state(url: str) -> CrawlState:
    """Open the crawl state beside the rankings a `packs.rankings` URL names; a malformed URL raises ValueError."""
    if url.startswith(SQLITE_PREFIX):
        return SQLiteCrawlState(RANKINGS_URL.sqlite_path(url))
    if url.startswith(REDIS_SCHEMES):
        return RedisCrawlState(*open_redis_url(RANKINGS_URL, url))
    raise RANKINGS_URL.unsupported(url)
