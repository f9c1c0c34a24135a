"""hot-topics: how good the reduce's rankings are, over many hours and places, with the world as the oracle. For
each place-hour, precision at 10: how many of the place's top 10 are live videos of its trends' topics. The
ranking's one knob, how many tweets a search answer is worth (PRIOR in workloads/hot_topics/ranking.py), is swept
from 0 (the tweets' links alone) to a huge value (the search alone), so ebbflow's setting is shown beside both
of the signals it combines, in the same run.

    python bench/hot_topics_ranking.py [--hours 24] [--places 12] [--tweets-per-place-hour 600]

Fewer tweets per place-hour show the regime the search is for: trends with a handful of tweets.

The emulator runs in this process on a clock set to 10 minutes into each hour (X only serves the current hour's
trends); the hours are a week apart, so they cover every hour of the day.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from workloads.emulator import EmulatorServer
from workloads.hot_topics.hours import HOUR_MS, hour_start
from workloads.hot_topics.inputs import load_or_fetch
from workloads.hot_topics.map_step import contexts_table
from workloads.hot_topics.places import DEFAULT_WOEIDS, country_code
from workloads.hot_topics.ranking import SEARCH_PRIOR_TWEETS, PlaceTrend, merge, score_place
from workloads.hot_topics.reduce_step import lookup_all, place_trends_of, search_all
from workloads.resources import Resources
from workloads.settings import PacksSettings
from workloads.world import World, WorldConfig

console = Console(width=None if sys.stdout.isatty() else 120)
TOP = 10
SEARCH_RESULTS = 20  # the pack's default
PRIORS = (0.0, 5.0, float(SEARCH_PRIOR_TWEETS), 100.0, 1e9)
WEEK_MS = 7 * 24 * HOUR_MS
INTO_THE_HOUR_MS = 10 * 60_000


def label_of(prior: float) -> str:
    if prior == 0:
        return "tweets' links alone (PRIOR 0)"
    if prior >= 1e9:
        return "search alone (PRIOR -> infinity)"
    mark = " (ebbflow)" if prior == SEARCH_PRIOR_TWEETS else ""
    return f"PRIOR {prior:g}{mark}"


def truth(world: World, woeid: int, hour_ms: int) -> set[str]:
    """The live videos of the place's trends' topics."""
    return {
        video.video_id
        for trend in world.trends(woeid, hour_ms)
        for video in world.trend_videos(trend)
        if video.status == "alive"
    }


def one_hour(
    resources: Resources, world: World, woeids: list[int], hour_ms: int
) -> tuple[dict[float, list[int]], dict[float, int]]:
    """Per prior: each place's hits in its top 10, and how many gone videos the top 10s would hold unchecked."""
    places: dict[str, list[PlaceTrend]] = {}
    for woeid in woeids:
        inputs = load_or_fetch(
            resources.archive, resources.x, woeid, country_code(woeid), hour_ms, hour_ms + INTO_THE_HOUR_MS
        )
        places[str(woeid)] = place_trends_of(contexts_table(inputs.trends, inputs.tweets))
    merged = merge(places)
    found = search_all(resources.videos, list(merged.values()), SEARCH_RESULTS)
    searched = {key: [meta.video_id for meta in found[key]] for key in merged}
    vouched = {meta.video_id for metas in found.values() for meta in metas}
    # every linked video the search did not return is asked about once; the reduce asks only about those that
    # would make a list, which gives the same lists
    linked = sorted({video for rows in places.values() for row in rows for video, _ in row.shares} - vouched)
    gone = {video for video, meta in zip(linked, lookup_all(resources.videos, linked), strict=True) if meta is None}
    hits: dict[float, list[int]] = {}
    dead_unchecked: dict[float, int] = {}
    for prior in PRIORS:
        hits[prior] = []
        dead_unchecked[prior] = 0
        for woeid in woeids:
            rows = places[str(woeid)]
            ranked = score_place(rows, searched, merged, TOP, gone, prior_tweets=prior)
            expected = truth(world, woeid, hour_ms)
            hits[prior].append(sum(video.video_id in expected for video in ranked))
            unchecked = score_place(rows, searched, merged, TOP, prior_tweets=prior)
            dead_unchecked[prior] += sum(video.video_id in gone for video in unchecked)
    return hits, dead_unchecked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=int, default=24, help="how many hours, a week apart")
    parser.add_argument("--places", type=int, default=12, help="the first N shipped places (Worldwide first)")
    parser.add_argument("--tweets-per-place-hour", type=int, default=WorldConfig().tweets_per_place_hour)
    args = parser.parse_args()
    woeids = list(DEFAULT_WOEIDS[: args.places])
    config = WorldConfig(tweets_per_place_hour=args.tweets_per_place_hour)
    world = World(config)
    clock = [time.time()]
    latest = hour_start(round(time.time() * 1000)) - HOUR_MS
    hits: dict[float, list[int]] = {prior: [] for prior in PRIORS}
    dead: dict[float, int] = dict.fromkeys(PRIORS, 0)
    with EmulatorServer(config, clock=lambda: clock[0]) as server, tempfile.TemporaryDirectory() as scratch:
        resources = Resources(PacksSettings(emulator=server.base_url, archive=scratch))
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"ranking {args.hours} hours of {len(woeids)} places", total=args.hours)
            for n in range(args.hours):
                hour_ms = latest - n * (WEEK_MS + HOUR_MS)  # a week and an hour apart: every hour of the day
                clock[0] = (hour_ms + INTO_THE_HOUR_MS) / 1000
                hour_hits, hour_dead = one_hour(resources, world, woeids, hour_ms)
                for prior in PRIORS:
                    hits[prior].extend(hour_hits[prior])
                    dead[prior] += hour_dead[prior]
                progress.advance(task)
        resources.close()
    cases = args.hours * len(woeids)
    table = Table(
        title=f"hot-topics ranking: {cases} place-hours ({args.hours} hours x {len(woeids)} places, "
        f"{config.tweets_per_place_hour} tweets each)"
    )
    table.add_column("scoring")
    table.add_column(f"mean precision@{TOP}", justify="right")
    table.add_column(f"worst place-hour (of {TOP})", justify="right")
    table.add_column(f"place-hours below {TOP - 1}", justify="right")
    table.add_column("gone videos in top 10s if unchecked", justify="right")
    for prior in PRIORS:
        found = hits[prior]
        table.add_row(
            label_of(prior),
            f"{statistics.fmean(found) / TOP:.3f}",
            f"{min(found)}",
            f"{sum(hit < TOP - 1 for hit in found)}",
            f"{dead[prior]}",
        )
    console.print(table)
    ours = statistics.fmean(hits[float(SEARCH_PRIOR_TWEETS)])
    console.print(
        f"ratio ebbflow / search alone: {ours / statistics.fmean(hits[1e9]):.2f}x; "
        f"ebbflow / tweets alone: {ours / statistics.fmean(hits[0.0]):.2f}x"
    )


if __name__ == "__main__":
    main()
