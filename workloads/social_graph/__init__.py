"""The social-graph pack (see pack.py)."""

from workloads.social_graph.pack import PACK, SocialGraphParams

__all__ = ["PACK", "SocialGraphParams"]
