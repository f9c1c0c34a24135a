"""related-crawl: videos crawled per second by the real job path (plan -> scheduler -> in-process worker -> the
pack's fetch: watch page, index, claim in the crawl state, queue the children), with the crawl state on SQLite
and on Redis (exact set and Bloom filter); beside a plain breadth-first loop over the same watch pages (httpx,
the same page parser, a Python set, no store): the ceiling for one process on this machine, in the same run.
The emulator serves realistic watch pages (170-520 KB, related videos only in the embedded ytInitialData); the
sizes of the pages served are measured and printed.

    python bench/related_crawl.py [--videos 2000] [--depth 6] [--backends sqlite,redis-set,redis-bloom]

Memory per seen video at 10 million videos is measured by bench/dedupe.py (the crawl state's dedupe alone).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import redis
from pydantic import SecretStr
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.emulated import emulator_process, scratch_settings
from bench.stale_videos import page_sizes
from ebbflow.config import Settings
from ebbflow.local_worker import LocalWorker
from ebbflow.stores import open_scheduler
from workloads.context import PlanContext, submit_planned
from workloads.related_crawl import PACK, RelatedCrawlParams
from workloads.resources import Resources, close_all
from workloads.sources.watch_page import parse_watch_page
from workloads.world import World, WorldConfig

console = Console(width=None if sys.stdout.isatty() else 120)
REDIS_URL = "redis://127.0.0.1:6379/0"


def ebbflow_crawl(settings: Settings, seeds: list[str], videos: int, depth: int, dedupe: str) -> tuple[float, int]:
    """(seconds, videos crawled) for one capped crawl, run to its end by an in-process worker."""
    scheduler = open_scheduler(settings)
    resources = Resources(settings.packs)
    params = RelatedCrawlParams(seeds=seeds, max_videos=videos, max_depth=depth, dedupe=dedupe, name="bench")  # type: ignore[arg-type]
    started = time.perf_counter()
    submit_planned(scheduler, PACK.plan(params, PlanContext.now(resources)))
    counts = LocalWorker(scheduler, "bench", idle_exit=True).run()
    seconds = time.perf_counter() - started
    summary = resources.crawl_state.summary("bench")
    if summary is None or summary.finished_ms is None or counts.dead:
        raise RuntimeError(f"the crawl did not finish cleanly: {summary}, {counts.dead} dead-lettered")
    resources.crawl_state.delete("bench")
    resources.close()
    close_all()
    scheduler.store.close()
    return seconds, summary.done


def plain_crawl(base_url: str, seeds: list[str], videos: int, depth: int) -> tuple[float, int]:
    """The same crawl as one loop: breadth first, a set for dedupe, nothing stored."""
    seen = set(seeds)
    frontier = deque((seed, 0) for seed in seeds)
    crawled = 0
    started = time.perf_counter()
    with httpx.Client(base_url=base_url) as client:
        while frontier:
            video, level = frontier.popleft()
            response = client.get("/watch", params={"v": video})
            page = parse_watch_page(video, response.status_code, response.text)
            crawled += 1
            if level == depth:
                continue
            for child in page.related:
                if child not in seen and len(seen) < videos:
                    seen.add(child)
                    frontier.append((child, level + 1))
    return time.perf_counter() - started, crawled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=2000, help="the crawl's videos cap")
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--backends", default="sqlite,redis-set,redis-bloom")
    args = parser.parse_args()
    world = World(WorldConfig())
    seeds = [world.video_id(i) for i in (1000, 2000, 3000)]
    backends = args.backends.split(",")
    rows: list[tuple[str, float, int]] = []
    with emulator_process(world.config) as url, Progress(console=console, transient=True) as progress:
        task = progress.add_task("the plain loop, then each backend", total=len(backends) + 1)
        sizes = page_sizes([f"{url}/watch?v={world.video_id(i)}" for i in range(300)])
        plain_s, plain_n = plain_crawl(url, seeds, args.videos, args.depth)
        progress.advance(task)
        for backend in backends:
            with tempfile.TemporaryDirectory() as scratch:
                settings = scratch_settings(Path(scratch), url)
                prefix = f"bench-crawl-{uuid.uuid4().hex[:8]}:"
                if backend.startswith("redis"):
                    rankings = SecretStr(f"{REDIS_URL}?prefix={prefix}")
                    settings = settings.model_copy(
                        update={"packs": settings.packs.model_copy(update={"rankings": rankings})}
                    )
                dedupe = "bloom" if backend.endswith("bloom") else "set"
                seconds, crawled = ebbflow_crawl(settings, seeds, args.videos, args.depth, dedupe)
                rows.append((backend, seconds, crawled))
                if backend.startswith("redis"):
                    _purge(prefix)
            progress.advance(task)
    title = f"related-crawl: {args.videos:,} videos cap, depth {args.depth}, 3 seeds, emulator (realistic pages)"
    table = Table(title=title)
    for column in ("what", "videos crawled", "seconds", "videos/s", "÷ plain loop"):
        table.add_column(column, justify="left" if column == "what" else "right")
    plain_rate = plain_n / plain_s
    table.add_row(
        "plain loop (httpx, set, nothing stored)", f"{plain_n:,}", f"{plain_s:.1f}", f"{plain_rate:,.0f}", "1.00x"
    )
    for backend, seconds, crawled in rows:
        rate = crawled / seconds
        label = f"ebbflow, crawl state on {backend}"
        table.add_row(label, f"{crawled:,}", f"{seconds:.1f}", f"{rate:,.0f}", f"{rate / plain_rate:.2f}x")
    console.print(table)
    console.print(sizes)


def _purge(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


if __name__ == "__main__":
    main()
