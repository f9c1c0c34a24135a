"""The crawls section of `ebbflow status`: per crawl, videos claimed and crawled per depth, and why it stopped."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from workloads.crawl_state import CrawlSummary


def crawls_section(crawls: Sequence[CrawlSummary] | str) -> RenderableType | None:
    if isinstance(crawls, str):
        return Text(f"crawls: cannot read them ({crawls})")
    if not crawls:
        return None
    table = Table(title="Related-video crawls (latest first)", title_justify="left")
    for column in ("crawl", "state", "crawled / claimed per depth"):
        table.add_column(column)
    for column in ("crawled", "caps (depth, videos)", "cut at caps"):
        table.add_column(column, justify="right")
    for crawl in crawls:
        depths = "  ".join(f"d{d.depth} {d.done}/{d.claimed}" for d in crawl.depths)
        state = "running" if crawl.finished_ms is None else f"done: {crawl.stop_reason}"
        caps = f"{crawl.caps.max_depth}, {crawl.caps.max_videos:,}"
        cut = f"{crawl.cut_by_depth + crawl.cut_by_cap:,}"
        table.add_row(crawl.crawl, state, depths, f"{crawl.done:,} of {crawl.claimed:,}", caps, cut)
    return table
