"""social-graph: users/s and videos upserted/s through the real job path (plan → scheduler → in-process
worker → Facebook Graph (batch API) and X (tweepy) adapters → the index and the users' streams), on SQLite
and on MySQL (the MariaDB on this machine), against the emulator, beside a ceiling measured in the same run:
the same HTTP calls from a plain httpx loop (bench/raw_social.py); and how long after submit a new user with
500 friends is done (target: within 5 s), with a warm worker polling the queue. On Facebook only the friends
who use the app are listed and read, each with their own token (docs/api-graph.md).

    python bench/social_graph.py [--users 100] [--backends sqlite,mysql]

The emulator runs in a child process and shares this machine's 2 cores with the worker.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pymysql
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.emulated import emulator_process, scratch_settings
from bench.raw_social import fetch_all
from ebbflow.config import Settings
from ebbflow.local_worker import LocalWorker, RunRecord
from ebbflow.stores import open_scheduler
from scheduler.job import JobState
from workloads.context import PlanContext, submit_planned
from workloads.resources import Resources
from workloads.social_graph import PACK, SocialGraphParams
from workloads.world import World, WorldConfig
from workloads.world.users import graph_app_friends

console = Console(width=None if sys.stdout.isatty() else 120)
POLL_S = 0.01
LOOKBACK_DAYS = SocialGraphParams.model_fields["lookback_days"].default


@contextmanager
def index_url(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'index.db'}"
        return
    database = f"ebbflow_bench_{uuid.uuid4().hex[:12]}"
    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    admin.cursor().execute(f"CREATE DATABASE {database}")
    try:
        yield f"mysql://root@127.0.0.1:3306/{database}"
    finally:
        admin.cursor().execute(f"DROP DATABASE {database}")
        admin.close()


def fetch_users(settings: Settings, users: list[str]) -> tuple[float, int, int]:
    """Seconds to fetch every user, videos upserted (summed over jobs), distinct videos in the index."""
    scheduler = open_scheduler(settings)
    resources = Resources(settings.packs)
    planned = PACK.plan(SocialGraphParams(users=users, activity="daily-active"), PlanContext.now(resources))
    started = time.perf_counter()
    results = submit_planned(scheduler, planned)
    counts = LocalWorker(scheduler, "bench", idle_exit=True).run()
    seconds = time.perf_counter() - started
    if counts.done != len(users):
        raise RuntimeError(
            f"{counts.done} of {len(users)} fetches finished ({counts.retried} retried, {counts.dead} dead)"
        )
    upserted = sum(_checkpoint_videos(scheduler.get(result.job_id).checkpoint) for result in results)
    distinct = resources.index.count()
    resources.close()
    scheduler.store.close()
    return seconds, upserted, distinct


def new_user_latency(settings: Settings, user: str) -> tuple[float, float]:
    """(submit → done, the job's own run time) in seconds for one new sign-up, with a warm polling worker."""
    worker_scheduler = open_scheduler(settings)
    worker = LocalWorker(worker_scheduler, "warm", poll_s=POLL_S)
    records: list[RunRecord] = []
    worker.on_record = records.append
    stop = threading.Event()

    def idle(seconds: float) -> None:  # the worker's pause between empty polls; ends it once stop is set
        if stop.wait(seconds):
            raise KeyboardInterrupt

    worker.sleep = idle
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    time.sleep(0.5)  # the worker is polling an empty queue: warm, as a head is
    scheduler = open_scheduler(settings)
    planned = PACK.plan(
        SocialGraphParams(users=[user], activity="new-signup"), PlanContext.now(Resources(settings.packs))
    )
    started = time.perf_counter()
    (result,) = submit_planned(scheduler, planned)
    while scheduler.get(result.job_id).state is not JobState.DONE:
        time.sleep(POLL_S)
    done_s = time.perf_counter() - started
    stop.set()
    thread.join(10)
    scheduler.store.close()
    worker_scheduler.store.close()
    return done_s, records[-1].run_ms / 1000


def _checkpoint_videos(checkpoint: object) -> int:
    return int(checkpoint.get("videos", 0)) if isinstance(checkpoint, dict) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--backends", default="sqlite,mysql")
    args = parser.parse_args()
    world = World(WorldConfig())
    users = [str(number) for number in range(1, args.users + 1)]
    new_user = world.user_with_degree(500)
    followed = sum(world.degree(user) for user in users)
    app_friends = sum(len(graph_app_friends(world.config, int(user))) for user in users)
    friends = f"{app_friends:,} Facebook friends who use the app of {followed:,}; {followed:,} followed on X"
    table = Table(title=f"social-graph: {args.users} users ({friends}), emulator")
    for column in (
        "index",
        "users/s",
        "videos upserted/s",
        "distinct videos",
        "new user, 500 friends: done after",
        "its run",
    ):
        table.add_column(column, justify="left" if column == "index" else "right")
    backends = args.backends.split(",")
    with emulator_process(world.config) as url, Progress(console=console, transient=True) as progress:
        task = progress.add_task("ceiling, then each index", total=len(backends) + 1)
        started = time.perf_counter()
        calls = fetch_all(url, users, round(time.time()) - LOOKBACK_DAYS * 86_400)
        ceiling = args.users / (time.perf_counter() - started)
        progress.advance(task)
        for backend in backends:
            with tempfile.TemporaryDirectory() as scratch, index_url(backend, Path(scratch)) as index:
                settings = scratch_settings(Path(scratch), url, index)
                seconds, upserted, distinct = fetch_users(settings, users)
                done_s, run_s = new_user_latency(settings, new_user)
            rate = args.users / seconds
            row = (f"{rate:,.1f} ({rate / ceiling:.2f}x)", f"{upserted / seconds:,.0f}", f"{distinct:,}")
            table.add_row(backend, *row, f"{done_s:.2f} s", f"{run_s:.2f} s")
            progress.advance(task)
    table.add_row("ceiling: the same calls, plain httpx", f"{ceiling:,.1f} (1.00x)", "", "", "", "")
    console.print(table)
    console.print(f"{calls:,} HTTP calls for the {args.users} users ({calls / args.users:,.0f} a user)")
    console.print(f"target: a new user with 500 friends done within 5 s of submit (user {new_user})")


if __name__ == "__main__":
    main()
