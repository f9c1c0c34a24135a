"""Reading back what a reduce wrote: a place's ranking for an hour, with each video's trend, context and title
from the archive's `hot` table."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.errors import InvalidJobError
from workloads.hot_topics import layout
from workloads.hot_topics.hours import label, parse_hour
from workloads.resources import Resources


@dataclass(frozen=True, slots=True)
class HotEntry:
    video_id: str
    score: float
    trend: str | None  # None when the archive holds no details for it (another archive, or one pruned)
    context: str | None
    title: str | None


@dataclass(frozen=True, slots=True)
class HotList:
    place: str
    hour: str
    entries: list[HotEntry]


def ranked_hours(resources: Resources, place: str) -> list[str]:
    """The hours ranked for a place, oldest first (labels like 2026-12-01T05)."""
    prefix = f"hot:{place}:"
    return sorted(name.removeprefix(prefix) for name in resources.rankings.names(prefix))


def read_hot_list(resources: Resources, place: str, hour_ms: int | None, top: int) -> HotList:
    import pyarrow.compute as pc  # here, not at the top: every CLI command imports this module

    hours = ranked_hours(resources, place)
    if not hours:
        raise InvalidJobError("WOEID", f"no hour is ranked for {place} yet; run `ebbflow pack submit hot-topics`")
    if hour_ms is None:
        hour_ms = parse_hour(hours[-1])
    if label(hour_ms) not in hours:
        raise InvalidJobError(
            "--hour", f"{label(hour_ms)} is not ranked for {place}; ranked hours: {', '.join(hours[-5:])}"
        )
    ranked = resources.rankings.top(layout.ranking_name(place, hour_ms), top)
    details: dict[str, dict[str, str | None]] = {}
    archive = resources.archive
    if archive.exists(layout.hot(hour_ms)):
        table = archive.read_parquet(layout.hot(hour_ms))
        rows = table.filter(pc.equal(table["place"], place)).select(["video_id", "trend", "context", "title"])
        details = {row["video_id"]: row for row in rows.to_pylist()}
    entries = [
        HotEntry(
            video_id,
            score,
            details.get(video_id, {}).get("trend"),
            details.get(video_id, {}).get("context"),
            details.get(video_id, {}).get("title"),
        )
        for video_id, score in ranked
    ]
    return HotList(place, label(hour_ms), entries)
