"""The related-crawl pack (see pack.py)."""

from workloads.related_crawl.pack import PACK, RelatedCrawlParams

__all__ = ["PACK", "RelatedCrawlParams"]
