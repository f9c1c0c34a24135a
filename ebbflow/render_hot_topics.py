"""Rich renderings for `ebbflow hot-topics`."""

from __future__ import annotations

from rich.table import Table

from workloads.hot_topics.hot_lists import HotList
from workloads.hot_topics.places import place_name
from workloads.world.places import PLACES


def hot_table(hot: HotList) -> Table:
    where = "the world" if hot.place == "global" else f"{place_name(int(hot.place))} (WOEID {hot.place})"
    table = Table(title=f"hot videos in {where}, hour {hot.hour} UTC", title_justify="left")
    for column, justify in (("#", "right"), ("video", "left"), ("score", "right"), ("trend", "left"),
                            ("context", "left"), ("title", "left")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for position, entry in enumerate(hot.entries, 1):
        table.add_row(
            str(position),
            entry.video_id,
            f"{entry.score:.4f}",
            entry.trend or "?",
            entry.context or "",
            entry.title or "",
        )
    return table


def places_table() -> Table:
    table = Table(title="places (WOEIDs)", title_justify="left")
    for column in ("woeid", "name", "country", "kind"):
        table.add_column(column)
    for woeid, place in sorted(PLACES.items(), key=lambda item: (item[1].kind != "world", item[1].name)):
        table.add_row(str(woeid), place.name, place.country_code or "", place.kind)
    return table
