"""The hot-topics pack (see pack.py)."""

from workloads.hot_topics.pack import PACK, HotTopicsParams

__all__ = ["PACK", "HotTopicsParams"]
