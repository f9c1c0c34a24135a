"""Dedupe at crawl scale: what one seen video costs a crawl's state, dedupe alone and whole (while the crawl runs,
and once it finished), and how fast claim_children claims, for the dedupe modes "set" and "bloom" (at 0.1% and
1%) on Redis and for the SQLite table, at 10 million seen videos.

    python bench/dedupe.py [--videos 10000000] [--sample 300000] [--probes 1000000] [--seen-share 0.3]
                           [--in-flight 10000] [--tail 10000]

Each mode runs one crawl capped at --videos (the Bloom filters are sized for it), as related-crawl fetches run
it: a parent claims its children (8 to 30 related videos offered, --seen-share of them seen before), then
finishes. Replaying 10 million of those call by call would take minutes per mode, so the first videos are
bulk-loaded (pipelined, writing what the calls would have written: bench/dedupe_load.py) and the last --sample
are claimed call by call through the real CrawlState, at full size, until the crawl reaches its cap; throughput
is measured there. Beside it, the ceiling: pipelined SADD of the same batches onto a copy of the full seen set.

Memory per seen video, three ways:

* dedupe alone: the seen set or Bloom filter (MEMORY USAGE of the key; SQLite: the crawl_seen table's pages);
* running: the whole state once every video is claimed, before the unfinished ones finish: seen, the done
  bitmap, the claims of --in-flight parents, the counters. A claim lives from a fetch's claim_children to its
  finish, so only fetches running or interrupted between the two hold one: the pack's default is 16 spot
  slots, so 10,000 is generous. The parents before them are finished (their claims gone);
* finished: the whole state once every video is finished (the finish that ends the crawl drops the bitmap and
  any claims): the seen set or filter and the summary. To get there the unfinished videos are bulk-finished,
  but for the in-flight parents and the last --tail, which finish call by call; the very last ends the crawl.

Redis: used_memory deltas on a redis-server this script starts on a free port and stops at the end. SQLite:
pages in use (dbstat), not the file's size, which keeps the pages deletes freed. Bloom modes: the
false-positive rate of the full filter on --probes ids never offered. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
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
from workloads.crawl_state.sqlite import TABLES as CRAWL_TABLES

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


@dataclass(frozen=True)
class Throughput:
    claimed_per_s: float  # videos claimed per second, call by call
    candidates_per_s: float
    finishes_per_s: float  # finish calls per second, one per parent, after its claim


@dataclass(frozen=True)
class Memory:
    """Bytes per seen video."""

    seen: float  # the dedupe alone: the seen set or filter
    running: float  # the whole state, every video claimed, the last ones not finished
    claims: float  # of which the in-flight parents' claims
    done: float  # of which the done bitmap
    finished: float  # the whole state once the crawl finished
    kept: str  # what a finished crawl keeps: Redis keys, or SQLite tables with rows


@dataclass
class Result:
    mode: str
    throughput: Throughput
    memory: Memory
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
    in_flight: int
    tail: int

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
    return Plan(ids, args.videos, bulk, calls, ids[len(ids) - args.probes :], args.in_flight, max(args.tail, 1))


def replay(state: CrawlState, plan: Plan, progress: Progress, task: TaskID) -> tuple[Throughput, int]:
    """Claim then finish, parent by parent as a fetch does, from the bulk load's end to the crawl's cap: the rates,
    and how many parents it took."""
    claimed, offered, claiming, finishing, news = 1 + plan.bulk_videos, 0, 0.0, 0.0, []
    parents = 0
    for call in plan.calls:
        started = time.perf_counter()
        result = state.claim_children(CRAWL, call.seq, 1, call.candidates)
        claimed_at = time.perf_counter()
        state.finish(CRAWL, call.seq, 1, NOW_MS)
        claiming, finishing = claiming + claimed_at - started, finishing + time.perf_counter() - claimed_at
        claimed, offered, parents = claimed + len(result.new), offered + len(call.candidates), parents + 1
        news += result.new
        if parents % 500 == 0:
            progress.update(task, completed=len(news))
        if claimed >= plan.videos:
            break
    summary = state.summary(CRAWL)
    if summary is None or summary.claimed != plan.videos or len(set(news)) != len(news):
        raise RuntimeError(f"the crawl claimed {summary and summary.claimed} of {plan.videos}, or a video twice")
    return Throughput(len(news) / claiming, offered / claiming, parents / finishing), parents


def finish_the_rest(
    state: CrawlState, plan: Plan, loaded: load.Load, replayed: int, mark_done: Callable[[int, int], None]
) -> None:
    """Finish every video not finished yet: bulk (mark_done(start, stop)) but for the in-flight parents and the
    last plan.tail, finished call by call, the very last of which must end the crawl."""
    first_unfinished = loaded.parents + replayed  # the parents before it finished in the bulk load or the replay
    tail = min(plan.tail, plan.videos - first_unfinished)
    mark_done(first_unfinished, plan.videos - tail)
    seqs = [*range(loaded.done, loaded.parents), *range(plan.videos - tail, plan.videos)]
    ends = [state.finish(CRAWL, seq, 0 if seq == 0 else 1, NOW_MS).crawl_finished for seq in seqs]
    summary = state.summary(CRAWL)
    if ends.count(True) != 1 or not ends[-1] or summary is None or summary.done != plan.videos:
        raise RuntimeError(f"the crawl did not end exactly at its last finish: {ends.count(True)} ends, {summary}")


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
    loaded = load.load_redis(raw, keys, plan.bulk, hashed, plan.in_flight)
    ceiling = sadd_ceiling(raw, keys.seen, plan) if shape is None else None
    progress.update(task, description=f"{mode}: claim + finish", total=plan.videos - 1 - plan.bulk_videos)
    throughput, replayed = replay(state, plan, progress, task)
    running = (probe.used_memory() - before) / plan.videos
    seen, claims, done = (float(raw.memory_usage(key, samples=0) or 0) / plan.videos for key in
                          (keys.seen, keys.claims, keys.done))  # fmt: skip
    fp_rate = None
    if shape is not None:
        h1, h2 = load.hashes(plan.probes)
        fp_rate = float(load.bitmap_bits(raw, keys.seen, shape.bits)[load.positions(h1, h2, shape)].all(0).mean())
    progress.update(task, description=f"{mode}: finish")
    finish_the_rest(state, plan, loaded, replayed, lambda start, stop: load.mark_done_redis(raw, keys, start, stop))
    finished = (probe.used_memory() - before) / plan.videos
    kept = ", ".join(key.rpartition(":")[2] for key in keys.all() if raw.exists(key))
    result = Result(mode, throughput, Memory(seen, running, claims, done, finished, kept), fp_rate)
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
    state.start(CRAWL, CrawlCaps(MAX_DEPTH, plan.videos), plan.ids[:1], NOW_MS)
    before = sum(_pages(path).values())
    task = progress.add_task("sqlite: bulk load", total=None)
    loaded = load.load_sqlite(str(path), CRAWL, plan.bulk, plan.in_flight)
    progress.update(task, description="sqlite: claim + finish", total=plan.videos - 1 - plan.bulk_videos)
    throughput, replayed = replay(state, plan, progress, task)
    pages = _pages(path)
    seen, claims, done = (pages.get(table, 0) / plan.videos for table in ("crawl_seen", "crawl_claims", "crawl_done"))
    running = (sum(pages.values()) - before) / plan.videos
    progress.update(task, description="sqlite: finish")
    finish_the_rest(
        state, plan, loaded, replayed, lambda start, stop: load.mark_done_sqlite(str(path), CRAWL, start, stop)
    )
    finished = (sum(_pages(path).values()) - before) / plan.videos
    kept = ", ".join(row.partition(":")[0] for row in _tables_with_rows(path))
    result = Result("sqlite table", throughput, Memory(seen, running, claims, done, finished, kept))
    started = time.perf_counter()
    state.delete(CRAWL)
    result.delete_s = time.perf_counter() - started
    result.seconds = time.perf_counter() - began
    progress.remove_task(task)
    state.close()
    return result


def _pages(path: Path) -> dict[str, int]:
    """Bytes of the pages each table and index uses (dbstat): what the file holds, less its free pages."""
    with sqlite3.connect(path) as db:
        pages = {
            str(name): int(size) for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
        }
    db.close()
    return pages


def _tables_with_rows(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        counts = {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in CRAWL_TABLES}
    db.close()
    return [table for table, count in counts.items() if count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=10_000_000, help="seen videos per crawl (its max_videos)")
    parser.add_argument("--sample", type=int, default=300_000, help="of them, claimed call by call at the end")
    parser.add_argument("--probes", type=int, default=1_000_000, help="never-offered ids to test each filter with")
    parser.add_argument("--seen-share", type=float, default=0.3, help="share of candidates seen before")
    parser.add_argument("--in-flight", type=int, default=10_000, help="parents between claim and finish, running")
    parser.add_argument("--tail", type=int, default=10_000, help="last videos finished call by call")
    args = parser.parse_args()
    if args.videos < 2 or args.sample < 1 or args.in_flight < 0:
        parser.error("--videos must be at least 2, --sample at least 1 and --in-flight at least 0")
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
    speed = Table(title=f"dedupe: one crawl of {plan.videos:,} seen videos per mode, the last {sample:,} call by call")
    for column in ("", "claimed/s", "candidates/s", "vs SADD", "finishes/s", "false pos.", "delete"):
        speed.add_column(column, justify="right" if column else "left")
    for r in results:
        dedupe, t = MODES[r.mode], r.throughput
        fp = "" if r.fp_rate is None or dedupe is None else f"{r.fp_rate:.3%} ({dedupe[1]:.1%})"
        rates = (t.claimed_per_s, t.candidates_per_s, t.claimed_per_s / ceiling, t.finishes_per_s)
        speed.add_row(r.mode, *(f"{rate:,.0f}" for rate in rates[:2]), f"{rates[2]:.3f}x", f"{rates[3]:,.0f}",
                      fp, f"{r.delete_s:.2f} s")  # fmt: skip
    speed.add_row("ceiling: pipelined SADD", f"{ceiling:,.0f}", "", "1.000x", "", "", "")
    console.print(speed)
    memory = Table(title=f"crawl state per seen video at {plan.videos:,} videos, bytes")
    for column in ("", "dedupe alone", "running", "of which claims", "of which done", "finished", "finished keeps"):
        memory.add_column(column, justify="right" if column else "left")
    for r in results:
        m = r.memory
        memory.add_row(r.mode, f"{m.seen:.2f}", f"{m.running:.2f}", f"{m.claims:.2f}", f"{m.done:.3f}",
                       f"{m.finished:.2f}", m.kept)  # fmt: skip
    console.print(memory)
    in_flight = min(plan.in_flight, len(plan.bulk))
    console.print(
        f"Bulk-loaded, not through CrawlState: the first {plan.bulk_videos + 1:,} videos' seen ids or bits, the "
        f"done bits of the {len(plan.bulk) - in_flight:,} parents finished before them and the claims of the "
        f"{in_flight:,} in flight; then claim_children and finish call by call ({args.seen_share:.0%} of "
        "candidates seen before) to the cap; at the end, the unfinished videos bulk-finished but for the "
        f"in-flight parents and the last {plan.tail:,}, finished call by call (the last one ends the crawl)."
    )
    console.print(
        "dedupe alone: MEMORY USAGE of the seen set or filter, or the crawl_seen table's pages. running: the whole "
        "state (Redis used_memory delta; SQLite pages in use) with every video claimed and the in-flight parents' "
        "claims; of which: the claims and done keys or tables. finished: the whole state after the crawl's end."
    )
    console.print(
        f"false pos.: share of {len(plan.probes):,} never-offered ids the full filter calls seen (configured rate)."
    )
    modes = ", ".join(f"{r.mode} {r.seconds:.0f} s" for r in results)
    console.print(f"total time {seconds:.0f} s ({modes}; the rest: making the ids and calls, hashing the ids)")


if __name__ == "__main__":
    main()
