"""stale-videos: URLs checked per second (and per CPU-second of this process, i.e. per core) by the real job
path (plan → scheduler → in-process worker → the pack's concurrent checker → index and rankings), beside
plain aiohttp and httpx loops that GET the same URLs with the same connection limit, read each page whole and
judge it by the same rules (`classify`): the ceiling for this machine. Target: ebbflow ≥ 0.8 of the aiohttp
loop. Rounds alternate; medians are reported.

The emulator serves realistic watch pages (170-520 KB, the player status after a big head, as the real site's);
the sizes of the pages served are measured and printed.

    python bench/stale_videos.py [--urls 20000] [--rounds 3] [--concurrency 64] [--batch 2000]

The emulator runs in a child process; on this 2-core machine it shares the cores with the checker, so both
the loops and ebbflow are measured against the same server, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.emulated import emulator_process, scratch_settings
from ebbflow.local_worker import LocalWorker
from ebbflow.stores import open_scheduler
from workloads.context import PlanContext, submit_planned
from workloads.index import VideoRecord, open_index
from workloads.resources import Resources, close_all
from workloads.sources.liveness import classify
from workloads.sources.urls import watch_url
from workloads.stale_videos import PACK, StaleVideosParams
from workloads.world import World, WorldConfig

console = Console(width=None if sys.stdout.isatty() else 120)
HTTPX_CONNECTIONS = 4
Measure = tuple[float, float]  # (URLs per wall second, URLs per CPU-second of this process)


def timed(count: int, work: Callable[[], object]) -> Measure:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return count / wall, count / max(cpu, 1e-9)


async def aiohttp_loop(urls: list[str], concurrency: int) -> int:
    # The semaphore keeps `concurrency` requests in flight; without it 20,000 wait in the connector's queue,
    # which costs more than the requests' own work (ebbflow, batching 500 at a time, then ran 1.16x faster).
    gate = asyncio.Semaphore(concurrency)

    async def one(session: aiohttp.ClientSession, url: str) -> bool:
        async with gate, session.get(url) as response:
            body = await response.text()
            return classify(response.status, body).verdict == "alive"

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        return sum(await asyncio.gather(*(one(session, url) for url in urls)))


async def httpx_loop(urls: list[str], concurrency: int) -> int:
    # httpx's pool slows down as it grows (here: 890 URLs/s with 4 connections, 530 with 16, 190 with 64),
    # so it runs at its best size, with a semaphore so that only that many requests are in the pool at once.
    gate = asyncio.Semaphore(concurrency)

    async def one(client: httpx.AsyncClient, url: str) -> bool:
        async with gate:
            response = await client.get(url)
        return classify(response.status_code, response.text).verdict == "alive"

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # No pool timeout: every request is queued at once and waits its turn for one of the connections.
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0, pool=None)) as client:
        return sum(await asyncio.gather(*(one(client, url) for url in urls)))


def seed_index(path: Path, ids: list[str]) -> None:
    index = open_index(f"sqlite:///{path}")
    index.upsert_videos([VideoRecord(vid, watch_url("https://www.youtube.com", vid), seen_ms=1) for vid in ids])
    index.close()


def ebbflow_round(
    folder: Path, template: Path, url: str, ids: list[str], args: argparse.Namespace
) -> tuple[Measure, int, int]:
    folder.mkdir(parents=True)  # a new folder per round: workers keep their stores open per settings
    shutil.copy(template, folder / "index.db")
    settings = scratch_settings(folder, url)
    scheduler = open_scheduler(settings)
    resources = Resources(settings.packs)
    # All the URLs are on one host here, so the per-host cap is the whole pool, as in the plain loops.
    params = StaleVideosParams(
        older_than_days=0, batch_size=args.batch, concurrency=args.concurrency, per_host=args.concurrency
    )

    counts = []

    def work() -> None:
        submit_planned(scheduler, PACK.plan(params, PlanContext.now(resources)))
        counts.append(LocalWorker(scheduler, "bench", idle_exit=True).run())

    measure = timed(args.urls, work)
    checked = sum(video.last_checked_ms is not None for video in resources.index.get(ids).values())
    if checked != len(ids) or counts[0].done != counts[0].leased:
        raise RuntimeError(f"ebbflow checked {checked:,} of {len(ids):,} URLs; worker: {counts[0]}")
    stale = resources.index.count(stale=True)
    resources.close()
    close_all()  # the stores the jobs opened through the per-process cache
    scheduler.store.close()
    return measure, checked, stale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--batch", type=int, default=StaleVideosParams().batch_size, help="videos per job")
    args = parser.parse_args()

    world = World(WorldConfig())
    ids = [world.video_id(i) for i in range(args.urls)]
    dead = sum(world.video(vid).status != "alive" for vid in ids)  # type: ignore[union-attr]
    results: dict[str, list[Measure]] = {"aiohttp": [], "httpx": [], "ebbflow": []}
    with tempfile.TemporaryDirectory() as scratch, emulator_process(world.config) as url:
        template = Path(scratch) / "template.db"
        seed_index(template, ids)
        urls = [watch_url(url, vid) for vid in ids]
        sizes = page_sizes(urls[:500])
        asyncio.run(aiohttp_loop(urls, args.concurrency))  # unmeasured: warms the emulator's caches
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("rounds", total=args.rounds * 3)
            for round_number in range(args.rounds):
                results["aiohttp"].append(timed(args.urls, lambda: asyncio.run(aiohttp_loop(urls, args.concurrency))))
                progress.advance(task)
                results["httpx"].append(timed(args.urls, lambda: asyncio.run(httpx_loop(urls, HTTPX_CONNECTIONS))))
                progress.advance(task)
                measure, checked, stale = ebbflow_round(
                    Path(scratch) / f"round-{round_number}", template, url, ids, args
                )
                results["ebbflow"].append(measure)
                progress.advance(task)
    report(args, results, checked, stale, dead)
    console.print(sizes)


def page_sizes(urls: list[str]) -> str:
    """The sizes of the 200 pages among `urls`, as a line for the report."""
    with httpx.Client(timeout=30) as client:
        sizes = [len(r.content) for url in urls if (r := client.get(url)).status_code == 200]
    kb = sorted(size / 1024 for size in sizes)
    return f"pages: {len(kb)} sampled, median {statistics.median(kb):,.0f} KB, {kb[0]:,.0f}-{kb[-1]:,.0f} KB"


def report(args: argparse.Namespace, results: dict[str, list[Measure]], checked: int, stale: int, dead: int) -> None:
    def med(name: str, part: int) -> float:
        return statistics.median(m[part] for m in results[name])

    table = Table(
        title=f"stale-videos: {args.urls:,} URLs, {args.concurrency} connections, {args.rounds} rounds (medians), "
        "realistic pages"
    )
    for column in ("", "URLs/s", "URLs per CPU-second", "vs aiohttp loop"):
        table.add_column(column, justify="right" if column else "left")
    rows = (
        ("plain aiohttp loop (ceiling)", "aiohttp"),
        (f"plain httpx loop ({HTTPX_CONNECTIONS} connections, its best)", "httpx"),
        ("ebbflow stale-videos", "ebbflow"),
    )
    for label, name in rows:
        ratio = med(name, 0) / med("aiohttp", 0)
        table.add_row(label, f"{med(name, 0):,.0f}", f"{med(name, 1):,.0f}", f"{ratio:.2f}x")
    console.print(table)
    console.print(
        f"ebbflow checked {checked:,} of {args.urls:,} URLs; marked {stale:,} stale (the world has {dead:,} dead)"
    )
    console.print(f"target: ebbflow ≥ 0.80x the aiohttp loop — measured {med('ebbflow', 0) / med('aiohttp', 0):.2f}x")


if __name__ == "__main__":
    main()
