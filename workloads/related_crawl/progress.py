"""The crawls' progress for `ebbflow status`: read from the crawl state without creating any store."""

from __future__ import annotations

from pathlib import Path

from scheduler.errors import SchedulerError
from workloads.crawl_state import CrawlSummary
from workloads.resources import Resources
from workloads.settings import PacksSettings, secret_value
from workloads.store_urls import SQLITE_PREFIX

RECENT = 10  # status shows the crawls started last


def crawl_summaries(settings: PacksSettings, recent: int = RECENT) -> list[CrawlSummary]:
    """The `recent` crawls started last, newest first; none when the store was never created. A store that cannot
    be read raises SchedulerError (ConfigError or StoreUnavailableError) naming `packs.rankings`."""
    url = secret_value(settings.rankings)
    if url.startswith(SQLITE_PREFIX) and not Path(url.removeprefix(SQLITE_PREFIX)).exists():
        return []  # opening it would create an empty file: status must change nothing
    resources = Resources(settings)
    try:
        state = resources.crawl_state
        summaries = [summary for name in state.crawls() if (summary := state.summary(name)) is not None]
    finally:
        resources.close()
    return sorted(summaries, key=lambda summary: -summary.started_ms)[:recent]


def readable_crawls(settings: PacksSettings) -> list[CrawlSummary] | str:
    """`crawl_summaries`, or the reason they cannot be read (status shows it and goes on)."""
    try:
        return crawl_summaries(settings)
    except SchedulerError as err:
        return str(err)
