"""The places hot-topics plans for, from the shipped list of real WOEIDs (workloads.world.places holds the data:
the emulator serves trends for exactly these places)."""

from __future__ import annotations

from workloads.world.places import HOT_TOPIC_WOEIDS, PLACES

DEFAULT_WOEIDS: tuple[int, ...] = HOT_TOPIC_WOEIDS


def country_code(woeid: int) -> str | None:
    """The country a place's tweets are searched in (a town's tweets are its country's); None for Worldwide."""
    place = PLACES.get(woeid)
    return place.country_code if place is not None else None


def place_name(woeid: int) -> str:
    place = PLACES.get(woeid)
    return place.name if place is not None else f"WOEID {woeid}"


def known(woeid: int) -> bool:
    return woeid in PLACES
