"""Workload packs: what a pack is, how it is found and bound, and the contexts its code gets.

The packs themselves live in subpackages (`workloads.social_graph`, `workloads.stale_videos`), as do the
stores (`workloads.index`, `workloads.rankings`), the sources (`workloads.sources`), the synthetic world
(`workloads.world`) and its HTTP emulator (`workloads.emulator`).
"""

from workloads.context import PackContext, PlanContext
from workloads.discovery import load_packs
from workloads.pack import Pack, PackJobType, PlannedJob
from workloads.resources import Resources
from workloads.settings import PacksSettings

__all__ = [
    "Pack",
    "PackContext",
    "PackJobType",
    "PacksSettings",
    "PlanContext",
    "PlannedJob",
    "Resources",
    "load_packs",
]
