"""`ebbflow hot-topics show | places`: what the hot-topics pack ranked, and where it ranks."""

from __future__ import annotations

import click

from ebbflow import render
from ebbflow.pack_cmd import AppLike
from ebbflow.render_hot_topics import hot_table, places_table
from scheduler.errors import InvalidJobError
from workloads.hot_topics.hot_lists import HotList, read_hot_list
from workloads.hot_topics.hours import parse_hour
from workloads.hot_topics.places import known
from workloads.resources import Resources


@click.group("hot-topics")
def hot_topics() -> None:
    """The hot-topics pack's rankings."""


@hot_topics.command("show")
@click.argument("place", metavar="WOEID")
@click.option("--hour", help="the hour, e.g. 2026-12-01T05 (UTC); default: the latest ranked hour")
@click.option("--top", type=click.IntRange(1, 1000), default=20, show_default=True, help="videos to list")
@click.pass_obj
def show(app: AppLike, place: str, hour: str | None, top: int) -> None:
    """The ranked videos of a place (a WOEID, or `global`) with their trend and context."""
    hot = _read(Resources(app.settings.packs), _place(place), hour, top)
    render.make_console().print(hot_table(hot))


@hot_topics.command("places")
def places() -> None:
    """The places the pack knows (the default plan covers Worldwide and every country)."""
    render.make_console().print(places_table())


def _place(text: str) -> str:
    if text == "global":
        return text
    if not text.isdigit() or not known(int(text)):
        raise InvalidJobError(
            "WOEID", f"{text!r} is not a known place; give `global` or one of `ebbflow hot-topics places`"
        )
    return text


def _read(resources: Resources, place: str, hour: str | None, top: int) -> HotList:
    try:
        hour_ms = None
        if hour is not None:
            try:
                hour_ms = parse_hour(hour)
            except ValueError as err:
                raise InvalidJobError("--hour", str(err)) from None
        return read_hot_list(resources, place, hour_ms, top)
    finally:
        resources.close()
