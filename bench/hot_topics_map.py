"""hot-topics map: tweets per second per core for the context inference (workloads.hot_topics.contexts: tokenise,
one word per tweet, join with the trends, count, lift, best words per trend), beside the same inference as one
DuckDB SQL query on one thread over the same Arrow tables, in the same run. Target: ebbflow >= 0.8 of DuckDB
per core, and near-linear on more worker processes.

    python bench/hot_topics_map.py [--places 120] [--rounds 3] [--workers 1,2]

The unit of work is what one map job computes: one place's hour of tweets (the world's tweets_per_place_hour)
and its 10 trends. Both sides must agree on every context (checked) so the peer does the same work. CPU time is
this process's (both run single-threaded), so tweets/s per CPU-second is per core.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import multiprocessing.queues
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb
import pyarrow as pa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from workloads.hot_topics.contexts import STOP_WORDS, ContextRules, TrendContext, infer_contexts, own_words
from workloads.world import World, WorldConfig
from workloads.world.places import HOT_TOPIC_WOEIDS

console = Console(width=None if sys.stdout.isatty() else 120)
HOUR_MS = 3_600_000
Unit = tuple[pa.Table, list[str]]  # one place-hour: its tweets' text, its trends

# The same rules as workloads.hot_topics.contexts, in SQL. Own words are removed afterwards in Python on
# both sides' candidates alike (a handful of rows), so the SQL keeps every candidate above the thresholds.
_PEER_SQL = """
WITH docs AS (SELECT doc, lower(text) AS t FROM tweets),
pieces AS (
    SELECT doc, unnest(regexp_split_to_array(regexp_replace(t, 'https?://\\S+|@\\w+', ' ', 'g'), '[^\\w#'']+')) AS word
    FROM docs
),
words AS (SELECT DISTINCT doc, word FROM pieces WHERE length(word) >= $min_length AND NOT list_contains($stop, word)),
members AS (SELECT d.doc, tr.name AS trend FROM docs d JOIN trends tr ON contains(d.t, lower(tr.name))),
df AS (SELECT word, count(*) AS df FROM words GROUP BY word),
tt AS (SELECT trend, count(*) AS n FROM members GROUP BY trend),
support AS (SELECT m.trend, w.word, count(*) AS c FROM members m JOIN words w USING (doc) GROUP BY ALL)
SELECT s.trend, s.word, s.c, (s.c / tt.n) / (df.df / $total) AS lift
FROM support s JOIN tt USING (trend) JOIN df USING (word)
WHERE s.c >= $min_support AND s.c >= $min_share * tt.n AND (s.c / tt.n) / (df.df / $total) >= $min_lift
"""
# The same, for every place at once: one query over all the places' tweets, grouped by place as well. It pays
# DuckDB's per-query cost once instead of per place, so it is the stronger peer.
_PEER_ALL_SQL = """
WITH docs AS (SELECT place, doc, lower(text) AS t FROM tweets),
pieces AS (
    SELECT place, doc,
        unnest(regexp_split_to_array(regexp_replace(t, 'https?://\\S+|@\\w+', ' ', 'g'), '[^\\w#'']+')) AS word
    FROM docs
),
words AS (
    SELECT DISTINCT place, doc, word FROM pieces WHERE length(word) >= $min_length AND NOT list_contains($stop, word)
),
members AS (
    SELECT d.place, d.doc, tr.name AS trend
    FROM docs d JOIN trends tr ON d.place = tr.place AND contains(d.t, lower(tr.name))
),
totals AS (SELECT place, count(*) AS total FROM docs GROUP BY place),
df AS (SELECT place, word, count(*) AS df FROM words GROUP BY ALL),
tt AS (SELECT place, trend, count(*) AS n FROM members GROUP BY ALL),
support AS (SELECT m.place, m.trend, w.word, count(*) AS c FROM members m JOIN words w USING (place, doc) GROUP BY ALL)
SELECT s.place, s.trend, s.word, s.c, (s.c / tt.n) / (df.df / totals.total) AS lift
FROM support s JOIN tt USING (place, trend) JOIN df USING (place, word) JOIN totals USING (place)
WHERE s.c >= $min_support AND s.c >= $min_share * tt.n AND (s.c / tt.n) / (df.df / totals.total) >= $min_lift
"""
_STOP = STOP_WORDS.to_pylist()


def make_units(places: int, config: WorldConfig) -> list[Unit]:
    world = World(config)
    hour_ms = config.epoch_ms + 48 * HOUR_MS
    woeids = [HOT_TOPIC_WOEIDS[i % len(HOT_TOPIC_WOEIDS)] for i in range(places)]
    units: list[Unit] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating the places' tweets", total=places)
        for n, woeid in enumerate(woeids):
            hour = hour_ms + (n // len(HOT_TOPIC_WOEIDS)) * HOUR_MS
            texts = pa.table({"text": [tweet.text for tweet in world.tweets(woeid, hour)]})
            units.append((texts, [trend.name for trend in world.trends(woeid, hour)]))
            progress.advance(task)
    return units


def ours(unit: Unit) -> list[TrendContext]:
    return infer_contexts(unit[0]["text"], unit[1])


def peer(unit: Unit, connection: duckdb.DuckDBPyConnection) -> list[TrendContext]:
    rules = ContextRules()
    texts, trends = unit
    tweets = pa.table({"doc": pa.array(range(texts.num_rows), pa.int64()), "text": texts["text"]})
    trend_table = pa.table({"name": trends})
    connection.register("tweets", tweets)
    connection.register("trends", trend_table)
    params = {"min_length": rules.min_length, "stop": _STOP, "total": texts.num_rows,
              "min_support": rules.min_support, "min_share": rules.min_share, "min_lift": rules.min_lift}  # fmt: skip
    rows = connection.execute(_PEER_SQL, params).fetchall()
    connection.unregister("tweets")
    connection.unregister("trends")
    return _best(rows, trends, rules)


def peer_all(units: list[Unit], connection: duckdb.DuckDBPyConnection) -> list[list[TrendContext]]:
    rules = ContextRules()
    tweets = pa.table(
        {
            "place": pa.array([p for p, unit in enumerate(units) for _ in range(unit[0].num_rows)], pa.int64()),
            "doc": pa.array([d for unit in units for d in range(unit[0].num_rows)], pa.int64()),
            "text": pa.concat_arrays([unit[0]["text"].combine_chunks() for unit in units]),
        }
    )
    trends = pa.table(
        {"place": [p for p, unit in enumerate(units) for _ in unit[1]], "name": [n for u in units for n in u[1]]}
    )
    connection.register("tweets", tweets)
    connection.register("trends", trends)
    params = {"min_length": rules.min_length, "stop": _STOP,
              "min_support": rules.min_support, "min_share": rules.min_share, "min_lift": rules.min_lift}  # fmt: skip
    rows = connection.execute(_PEER_ALL_SQL, params).fetchall()
    connection.unregister("tweets")
    connection.unregister("trends")
    per_place: list[list[tuple[str, str, int, float]]] = [[] for _ in units]
    for place, trend, word, count, lift in rows:
        per_place[place].append((trend, word, count, lift))
    return [_best(per_place[p], unit[1], rules) for p, unit in enumerate(units)]


def _best(rows: Sequence[tuple[str, str, int, float]], trends: list[str], rules: ContextRules) -> list[TrendContext]:

    by_trend: dict[str, list[tuple[float, str, int]]] = {trend: [] for trend in trends}
    for trend, word, count, lift in rows:
        if word not in own_words(trend):
            by_trend[trend].append((count * math.log(lift), word, count))
    out = []
    for trend in trends:
        best = sorted(by_trend[trend], key=lambda c: (-c[0], c[1]))[: rules.top]
        out.append(TrendContext(trend, 0, tuple(c[1] for c in best), tuple(c[2] for c in best)))
    return out


def timed(work: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def scaling(workers: int, units: list[Unit], rounds: int) -> float:
    """Tweets per wall second with `workers` processes splitting the places: the median of `rounds` rounds, each
    running every place twice. The processes are forked with their share already in memory and start together
    at a barrier, so the figure is the inference alone (not pickling tables to them, not their start-up)."""
    shares = [(units[i::workers] * 2) for i in range(workers)]
    rates = []
    context = multiprocessing.get_context("fork")
    for _ in range(rounds):
        barrier = context.Barrier(workers)
        results: multiprocessing.queues.Queue[tuple[int, float, float]] = context.Queue()
        processes = [context.Process(target=_infer_share, args=(share, barrier, results)) for share in shares]
        for process in processes:
            process.start()
        done = [results.get() for _ in processes]
        for process in processes:
            process.join()
        wall = max(end for _, _, end in done) - min(start for _, start, _ in done)
        rates.append(sum(count for count, _, _ in done) / wall)
    return statistics.median(rates)


def _infer_share(share: list[Unit], barrier: Any, results: Any) -> None:
    ours(share[0])  # warm: the first call pays for pyarrow's lazy set-up
    barrier.wait()
    start = time.monotonic()  # CLOCK_MONOTONIC: comparable across processes on Linux
    for unit in share:
        ours(unit)
    results.put((sum(unit[0].num_rows for unit in share), start, time.monotonic()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--places", type=int, default=120, help="place-hours (map jobs' inputs) to infer")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="1,2", help="worker process counts for the scaling figure")
    args = parser.parse_args()
    config = WorldConfig()
    units = make_units(args.places, config)
    tweets = sum(unit[0].num_rows for unit in units)
    connection = duckdb.connect(config={"threads": 1})
    mismatches = sum(
        [(c.trend, c.terms) for c in ours(unit)] != [(c.trend, c.terms) for c in peer(unit, connection)]
        for unit in units
    )
    mismatches += sum(
        [(c.trend, c.terms) for c in ours(unit)] != [(c.trend, c.terms) for c in theirs]
        for unit, theirs in zip(units, peer_all(units, connection), strict=True)
    )
    if mismatches:
        raise SystemExit(f"the peer disagrees with ebbflow on {mismatches} of {len(units)} places: not the same work")
    ours_cpu: list[float] = []
    peer_cpu: list[float] = []
    peer_all_cpu: list[float] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("rounds (ebbflow, DuckDB per place, DuckDB all at once)", total=args.rounds * 3)
        for _ in range(args.rounds):
            ours_cpu.append(timed(lambda: [ours(unit) for unit in units])[1])
            progress.advance(task)
            peer_cpu.append(timed(lambda: [peer(unit, connection) for unit in units])[1])
            progress.advance(task)
            peer_all_cpu.append(timed(lambda: peer_all(units, connection))[1])
            progress.advance(task)
    ours_rate, peer_rate = tweets / statistics.median(ours_cpu), tweets / statistics.median(peer_cpu)
    peer_all_rate = tweets / statistics.median(peer_all_cpu)
    table = Table(title=f"hot-topics map: context inference over {len(units)} place-hours, {tweets:,} tweets")
    table.add_column("what")
    table.add_column("tweets/s per core", justify="right")
    table.add_row("ebbflow (pyarrow.compute, one thread)", f"{ours_rate:,.0f}")
    table.add_row("DuckDB SQL, threads=1 (peer)", f"{peer_rate:,.0f}")
    table.add_row("DuckDB SQL, threads=1, all places in one query (peer)", f"{peer_all_rate:,.0f}")
    table.add_row("ratio ebbflow / DuckDB per place", f"{ours_rate / peer_rate:.2f}x (target >= 0.8)")
    table.add_row("ratio ebbflow / DuckDB all at once", f"{ours_rate / peer_all_rate:.2f}x (target >= 0.8)")
    counts = [int(part) for part in args.workers.split(",")]
    rates = {workers: scaling(workers, units, args.rounds) for workers in counts}
    for workers, rate in rates.items():
        speedup = rate / rates[counts[0]]
        table.add_row(f"{workers} worker process(es), tweets/s (wall)", f"{rate:,.0f} ({speedup:.2f}x)")
    console.print(table)
    console.print(f"places agreeing with the peer: {len(units) - mismatches} of {len(units)}; cores here: 2")


if __name__ == "__main__":
    main()
