"""hot-topics: one whole hour (every shipped place: Worldwide and about 170 countries) through the production path,
plan -> scheduler -> dispatcher -> Ray workers on the demo cluster (a private local Ray with the default
[ray] slots) -> the last map queues the reduce -> rankings, timed against the hour's deadline; beside the same
fetches and computations done by one plain loop in this process (no scheduler, no Ray), measured in the same run.

    python bench/hot_topics_hour.py [--places 169] [--deadline-minutes 10]

The emulator runs in a child process and serves the world's tweets (tweets_per_place_hour each, the Worldwide
search spanning every place). X only serves the current hour's trends, so a run that would cross the top of the
hour waits for the next one first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.emulated import emulator_process, scratch_settings
from dispatcher.runtime import disconnect
from ebbflow.config import Settings
from ebbflow.head import connect_ray, run_until_empty
from ebbflow.stores import open_scheduler
from scheduler.job import Lease
from workloads.archive import Archive
from workloads.context import PlanContext, submit_planned
from workloads.hot_topics import PACK, HotTopicsParams
from workloads.hot_topics.hours import HOUR_MS, hour_start, label
from workloads.hot_topics.inputs import load_or_fetch
from workloads.hot_topics.map_step import contexts_table
from workloads.hot_topics.places import DEFAULT_WOEIDS, country_code
from workloads.hot_topics.ranking import merge, pooled
from workloads.hot_topics.reduce_step import lookup_all, place_trends_of, rank_live_videos, search_all
from workloads.resources import Resources
from workloads.world import WorldConfig

console = Console(width=None if sys.stdout.isatty() else 120)
NEEDED_S = 240.0  # both runs fit in this: start them only when this much of the hour is left


def wait_for_room() -> None:
    left_s = (hour_start(round(time.time() * 1000)) + HOUR_MS) / 1000 - time.time()
    if left_s < NEEDED_S:
        console.print(f"{left_s:.0f} s of this hour left: waiting for the next hour (trends are per hour)")
        time.sleep(left_s + 1)


def ebbflow_hour(settings: Settings, woeids: list[int], deadline_minutes: float) -> tuple[float, int, int, int]:
    """(seconds from submit to the reduce's end, jobs run, jobs late for their deadline, rankings written)."""
    scheduler = open_scheduler(settings)
    resources = Resources(settings.packs)
    params = HotTopicsParams(woeids=woeids, deadline_minutes=deadline_minutes)
    planned = PACK.plan(params, PlanContext.now(resources))
    late: list[str] = []
    outcomes: list[str] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("the hour on Ray (maps, then the reduce)", total=len(planned) + 1)

        def record(lease: Lease, outcome: str, run_s: float) -> None:
            outcomes.append(outcome)
            deadline = lease.job.deadline_ms
            if deadline is not None and time.time() * 1000 > deadline:
                late.append(lease.job.id)
            progress.advance(task)

        started = time.perf_counter()
        submit_planned(scheduler, planned)
        run_until_empty(settings, scheduler, record)
        seconds = time.perf_counter() - started
    if outcomes.count("done") != len(outcomes) or len(outcomes) != len(planned) + 1:
        raise RuntimeError(f"not every job finished: {len(outcomes)} outcomes, {outcomes.count('done')} done")
    hour = label(params.hour_ms(round(time.time() * 1000)))
    written = len([name for name in resources.rankings.names("hot:") if name.endswith(hour)])
    if written != len(woeids) + 1:
        raise RuntimeError(f"{written} rankings written for hour {hour}, not one per place and the global one")
    resources.close()
    scheduler.store.close()
    return seconds, len(outcomes), len(late), written


def plain_hour(settings: Settings, woeids: list[int]) -> float:
    """The same work in one loop: fetch and archive each place, infer its contexts, then merge, search, rank."""
    resources = Resources(settings.packs)
    archive = Archive.from_uri(settings.packs.archive)
    started = time.perf_counter()
    now_ms = round(time.time() * 1000)
    hour_ms = hour_start(now_ms)
    places = {}
    for woeid in woeids:
        inputs = load_or_fetch(archive, resources.x, woeid, country_code(woeid), hour_ms, now_ms)
        places[str(woeid)] = place_trends_of(contexts_table(inputs.trends, inputs.tweets))
    merged = merge(places)
    found = search_all(resources.videos, list(merged.values()), 10)
    searched = {key: [meta.video_id for meta in found[key]] for key in merged}
    metadata = {meta.video_id: meta for metas in found.values() for meta in metas}
    views = {**places, "global": pooled(places, merged)}
    rank_live_videos(views, searched, merged, 50, metadata, lambda ids: lookup_all(resources.videos, ids))
    seconds = time.perf_counter() - started
    resources.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--places", type=int, default=len(DEFAULT_WOEIDS), help="the first N shipped places")
    parser.add_argument("--deadline-minutes", type=float, default=10.0)
    args = parser.parse_args()
    woeids = list(DEFAULT_WOEIDS[: args.places])
    config = WorldConfig()
    with emulator_process(config) as url, tempfile.TemporaryDirectory() as scratch:
        wait_for_room()
        ours = scratch_settings(Path(scratch) / "ebbflow", url)
        Path(scratch, "ebbflow").mkdir()
        ours = ours.model_copy(
            update={"packs": ours.packs.model_copy(update={"archive": str(Path(scratch) / "ebbflow" / "archive")})}
        )
        # The head runs for days: its Ray is up before the hour (its start is timed on its own). Its worker
        # processes start with the hour's first jobs, so their start-up is in the hour's time.
        ray_started = time.perf_counter()
        connect_ray(ours)
        ray_s = time.perf_counter() - ray_started
        try:
            seconds, jobs, late, written = ebbflow_hour(ours, woeids, args.deadline_minutes)
        finally:
            disconnect()
        Path(scratch, "plain").mkdir()
        plain = scratch_settings(Path(scratch) / "plain", url)
        plain = plain.model_copy(
            update={"packs": plain.packs.model_copy(update={"archive": str(Path(scratch) / "plain" / "archive")})}
        )
        plain_s = plain_hour(plain, woeids)
    slots = f"{ours.ray.local_spot_slots} spot + {ours.ray.local_ondemand_slots} on-demand slots"
    table = Table(title=f"hot-topics: one hour, {len(woeids)} places, {config.tweets_per_place_hour} tweets each")
    table.add_column("what")
    table.add_column("figure", justify="right")
    table.add_row(f"ebbflow on the demo cluster (local Ray, {slots}): submit -> reduce done", f"{seconds:.1f} s")
    table.add_row("(starting the local Ray before it, not counted)", f"{ray_s:.1f} s")
    table.add_row("deadline (after the top of the hour)", f"{args.deadline_minutes * 60:.0f} s")
    table.add_row("jobs run (maps + reduce)", f"{jobs}")
    table.add_row("jobs done after their deadline", f"{late}")
    table.add_row("rankings written (places + global)", f"{written}")
    table.add_row("plain loop, one process, same work", f"{plain_s:.1f} s")
    table.add_row("ratio plain / ebbflow (speed)", f"{plain_s / seconds:.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
