"""Dedupe at crawl scale: what one seen video costs a crawl's state, and how fast claim_children claims, for the
dedupe modes "set" and "bloom" (at 0.1% and 1%) on Redis and for the SQLite table, at 10 million seen videos.

    python bench/dedupe.py [--videos 10000000] [--sample 300000] [--probes 1000000] [--seen-share 0.3]

Each mode runs one crawl capped at --videos (the Bloom filters are sized for it). Calls are like a crawl job's:
a parent offers 8 to 30 related videos, --seen-share of them seen before. Replaying 10 million claims call by
call would take minutes per mode, so the first videos are bulk-loaded (pipelined, writing what the calls would
have written: bench/dedupe_load.py) and the last --sample are claimed call by call through the real
CrawlState.claim_children, at full size, until the crawl reaches its cap; throughput is measured there. Beside
it, the ceiling: pipelined SADD of the same batches onto a copy of the full seen set, in the same run.

Memory per seen video: Redis's used_memory delta over the whole crawl (seen ids or filter, per-parent claimed
lists, counters) and MEMORY USAGE of the seen key and of the claims hash, on a redis-server this script starts
on a free port and stops at the end; for SQLite, the file's growth after a WAL checkpoint, and the seen and
claims tables' pages (dbstat). Bloom modes: the false-positive rate of the full filter on --probes ids never
offered. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from bench import dedupe_load as load
from bench.private_redis import private_redis
from bench.redis_probe import RedisProbe
from workloads.crawl_state import CrawlCaps, CrawlState, Dedupe, RedisCrawlState, SQLiteCrawlState
from workloads.crawl_state.bloom import bloom_shape

console = Console(width=None if sys.stdout.isatty() else 150)
CRAWL, NOW_MS, SEED = "bench", 1_700_000_000_000, 20240601
MODES: dict[str, tuple[Dedupe, float] | None] = {  # (dedupe, bloom_error) on Redis; None: the SQLite table
    "redis-set": ("set", 0.001),
    "redis-bloom 0.1%": ("bloom", 0.001),
    "redis-bloom 1%": ("bloom", 0.01),
    "sqlite table": None,
}
MAX_DEPTH = 1000  # every claim here is at depth 1: the depth cap never cuts
PIPELINE = 100  # SADD commands per round trip for the ceiling
SPARE = 0.05  # extra new videos offered in the sample, for those a Bloom filter skips as false positives


@dataclass
class Result:
    mode: str
    claimed_per_s: float  # videos claimed per second, call by call
    candidates_per_s: float
    state_bytes: float  # per seen video: the whole crawl's state
    seen_bytes: float  # per seen video: the dedupe key (set, filter) or table
    claims_bytes: float  # per seen video: the per-parent claimed lists
    fp_rate: float | None = None
    delete_s: float = 0.0
    seconds: float = 0.0  # the whole mode, bulk load included


@dataclass
class Plan:
    """One crawl's work: what is bulk-loaded and what is claimed call by call (the same for every mode)."""

    ids: list[str]
    videos: int
    bulk: list[tuple[str, list[str]]]
    calls: list[load.Call]
    probes: list[str]

    @cached_property
    def bulk_videos(self) -> int:
        return sum(len(children) for _, children in self.bulk)

    @cached_property
    def bulk_hashes(self) -> tuple[load.U64, load.U64]:
        """(h1, h2) of the bulk-loaded ids, for both Bloom modes."""
        return load.hashes(self.ids[1 : 1 + self.bulk_videos])


def make_plan(args: argparse.Namespace, progress: Progress) -> Plan:
    sample = min(args.sample, args.videos - 1)
    spare = int(sample * SPARE) + 100
    task = progress.add_task("ids and calls", total=None)
    ids = load.make_ids(args.videos + spare + args.probes, SEED)
    bulk = load.bulk_claims(ids, 1, args.videos - 1 - sample, args.seen_share, SEED)
    calls = load.calls(ids, len(bulk), args.videos - sample, sample + spare, args.seen_share, SEED + 1)
    progress.remove_task(task)
    return Plan(ids, args.videos, bulk, calls, ids[len(ids) - args.probes :])


def replay(state: CrawlState, plan: Plan, progress: Progress, task: TaskID) -> tuple[float, float]:
    """(claimed/s, candidates/s) through claim_children, from the bulk load's end to the crawl's cap."""
    claimed, offered, elapsed, news = 1 + plan.bulk_videos, 0, 0.0, []
    for number, call in enumerate(plan.calls):
        started = time.perf_counter()
        result = state.claim_children(CRAWL, call.parent, 1, call.candidates)
        elapsed += time.perf_counter() - started
        claimed, offered = claimed + len(result.new), offered + len(call.candidates)
        news += result.new
        if number % 500 == 0:
            progress.update(task, completed=len(news))
        if claimed >= plan.videos:
            break
    summary = state.summary(CRAWL)
    if summary is None or summary.claimed != plan.videos or len(set(news)) != len(news):
        raise RuntimeError(f"the crawl claimed {summary and summary.claimed} of {plan.videos}, or a video twice")
    return len(news) / elapsed, offered / elapsed


def sadd_ceiling(raw: redis.Redis, seen_key: str, plan: Plan) -> float:
    """New videos/s for pipelined SADD of the sample's batches onto a copy of the full seen set."""
    scratch = seen_key + ":ceiling"
    raw.copy(seen_key, scratch)
    added, pipe, started = 0, raw.pipeline(transaction=False), time.perf_counter()
    for at in range(0, len(plan.calls), PIPELINE):
        for call in plan.calls[at : at + PIPELINE]:
            pipe.sadd(scratch, *call.candidates)
        added += sum(pipe.execute())
    elapsed = time.perf_counter() - started
    raw.unlink(scratch)
    return added / elapsed


def run_redis(port: int, mode: str, caps: CrawlCaps, plan: Plan, progress: Progress) -> tuple[Result, float | None]:
    """The mode's figures, and the SADD ceiling (measured in the set mode only)."""
    began = time.perf_counter()
    raw, state = redis.Redis(port=port), RedisCrawlState(redis.Redis(port=port, decode_responses=True), "bench:")
    probe, keys = RedisProbe(raw), state.keys(CRAWL)
    before = probe.used_memory()
    state.start(CRAWL, caps, plan.ids[:1], NOW_MS)
    shape = bloom_shape(caps.max_videos, caps.bloom_error) if caps.dedupe == "bloom" else None
    task = progress.add_task(f"{mode}: bulk load", total=None)
    hashed = None if shape is None else (*plan.bulk_hashes, shape)
    load.load_redis(raw, keys, plan.bulk, hashed)
    ceiling = sadd_ceiling(raw, keys.seen, plan) if shape is None else None
    progress.update(task, description=f"{mode}: claim_children", total=plan.videos - 1 - plan.bulk_videos)
    claimed_per_s, candidates_per_s = replay(state, plan, progress, task)
    per_video = [float(raw.memory_usage(key, samples=0) or 0) / plan.videos for key in (keys.seen, keys.claims)]
    result = Result(mode, claimed_per_s, candidates_per_s, (probe.used_memory() - before) / plan.videos, *per_video)
    if shape is not None:
        h1, h2 = load.hashes(plan.probes)
        result.fp_rate = float(load.bitmap_bits(raw, keys.seen, shape)[load.positions(h1, h2, shape)].all(0).mean())
    started = time.perf_counter()
    state.delete(CRAWL)
    result.delete_s = time.perf_counter() - started
    probe.used_memory()  # waits for the background free of what delete unlinked, before the next mode starts
    result.seconds = time.perf_counter() - began
    progress.remove_task(task)
    state.close()
    raw.close()
    return result, ceiling


def run_sqlite(folder: Path, plan: Plan, progress: Progress) -> Result:
    began, path = time.perf_counter(), folder / "rankings.db"
    state = SQLiteCrawlState(path)
    before = _file_size(path)
    state.start(CRAWL, CrawlCaps(MAX_DEPTH, plan.videos), plan.ids[:1], NOW_MS)
    task = progress.add_task("sqlite: bulk load", total=None)
    load.load_sqlite(str(path), CRAWL, plan.bulk)
    progress.update(task, description="sqlite: claim_children", total=plan.videos - 1 - plan.bulk_videos)
    claimed_per_s, candidates_per_s = replay(state, plan, progress, task)
    grown = (_file_size(path) - before) / plan.videos
    with sqlite3.connect(path) as db:
        pages = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
    db.close()
    result = Result("sqlite table", claimed_per_s, candidates_per_s, grown, *_per_video(pages, plan.videos))
    started = time.perf_counter()
    state.delete(CRAWL)
    result.delete_s = time.perf_counter() - started
    result.seconds = time.perf_counter() - began
    progress.remove_task(task)
    state.close()
    return result


def _per_video(pages: dict[str, int], videos: int) -> tuple[float, float]:
    return pages.get("crawl_seen", 0) / videos, pages.get("crawl_claims", 0) / videos


def _file_size(path: Path) -> int:
    """The file's size once its WAL is checkpointed into it (and truncated), so the WAL does not count."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=10_000_000, help="seen videos per crawl (its max_videos)")
    parser.add_argument("--sample", type=int, default=300_000, help="of them, claimed call by call at the end")
    parser.add_argument("--probes", type=int, default=1_000_000, help="never-offered ids to test each filter with")
    parser.add_argument("--seen-share", type=float, default=0.3, help="share of candidates seen before")
    args = parser.parse_args()
    if args.videos < 2 or args.sample < 1:
        parser.error("--videos must be at least 2 and --sample at least 1")
    started = time.perf_counter()
    results, ceiling = [], 0.0
    with Progress(console=console, transient=True) as progress:
        plan = make_plan(args, progress)
        with private_redis() as port:
            for mode, dedupe in MODES.items():
                if dedupe is not None:
                    caps = CrawlCaps(MAX_DEPTH, args.videos, *dedupe)
                    result, set_ceiling = run_redis(port, mode, caps, plan, progress)
                    results.append(result)
                    ceiling = set_ceiling or ceiling
        with tempfile.TemporaryDirectory() as folder:
            results.append(run_sqlite(Path(folder), plan, progress))
    report(args, plan, results, ceiling, time.perf_counter() - started)


def report(args: argparse.Namespace, plan: Plan, results: list[Result], ceiling: float, seconds: float) -> None:
    sample = plan.videos - 1 - plan.bulk_videos
    table = Table(title=f"dedupe: one crawl of {plan.videos:,} seen videos per mode; bytes are per seen video")
    columns = ("", "claimed/s", "candidates/s", "vs SADD", "state B", "seen key B", "claims B", "false pos.", "delete")
    for column in columns:
        table.add_column(column, justify="right" if column else "left")
    for r in results:
        dedupe = MODES[r.mode]
        fp = "" if r.fp_rate is None or dedupe is None else f"{r.fp_rate:.3%} ({dedupe[1]:.1%})"
        table.add_row(
            r.mode, f"{r.claimed_per_s:,.0f}", f"{r.candidates_per_s:,.0f}", f"{r.claimed_per_s / ceiling:.3f}x",
            f"{r.state_bytes:.1f}", f"{r.seen_bytes:.1f}", f"{r.claims_bytes:.1f}", fp, f"{r.delete_s:.2f} s",
        )  # fmt: skip
    table.add_row("ceiling: pipelined SADD", f"{ceiling:,.0f}", "", "1.000x", "", "", "", "", "")
    console.print(table)
    console.print(
        f"claimed/s: claim_children call by call ({args.seen_share:.0%} of candidates seen before) for the last "
        f"{sample:,} videos of each crawl, after a pipelined bulk load of the first {plan.bulk_videos + 1:,}."
    )
    console.print(
        "state B: Redis used_memory delta (seen ids or filter, claimed lists, counters); SQLite file growth. "
        "seen key B: MEMORY USAGE of the set or filter, or the crawl_seen table's pages."
    )
    console.print(
        f"false pos.: share of {len(plan.probes):,} never-offered ids the full filter calls seen (configured rate). "
        "A finished crawl also holds its done set: exact ids, about the redis-set seen key's figure."
    )
    modes = ", ".join(f"{r.mode} {r.seconds:.0f} s" for r in results)
    console.print(f"total time {seconds:.0f} s ({modes}; the rest: making the ids and calls, hashing the ids)")


if __name__ == "__main__":
    main()
