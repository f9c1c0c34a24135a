"""The stale-videos pack (see pack.py)."""

from workloads.stale_videos.pack import PACK, StaleVideosParams

__all__ = ["PACK", "StaleVideosParams"]
