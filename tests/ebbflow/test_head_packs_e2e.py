"""Every pack under `ebbflow head` on a local multi-node Ray cluster, with this machine's Redis (the queue, the
rankings and the crawl state) and MariaDB (the video index), against `ebbflow emulate`: separate processes
configured through the environment, as an operator runs them. The results are read back from the stores with
the packs' own readers, and the world is the oracle.

Social-graph, hot-topics and a related crawl run first; then a stale sweep re-checks every video they put in
the index. Each test has its own Redis namespace and rankings prefix (keys deleted afterwards), its own MariaDB
database (dropped afterwards) and free ports; every process it starts is stopped, whatever happens.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.private_redis import free_port
from ebbflow import open_store
from ebbflow.config import RedisSettings, Settings
from scheduler.store import JobStore
from tests.ebbflow.test_cli_head import EBBFLOW, start, stop
from tests.stores import delete_redis_keys, leftover_redis_keys, redis_client
from tests.workloads.contracts.conftest import MYSQL, mysql_admin
from tests.workloads.test_emulate_cli import _first_answer
from tests.workloads.test_hot_topics import PLACES, is_alive, topic_videos
from tests.workloads.test_related_crawl import SEEDS, bfs
from tests.workloads.test_social_graph import WORLD, assert_stream_matches_world
from workloads.archive import Archive
from workloads.crawl_state import open_crawl_state
from workloads.hot_topics import layout
from workloads.hot_topics.hours import HOUR_MS, hour_start, label
from workloads.index import VideoIndex, open_index
from workloads.rankings import Rankings, open_rankings
from workloads.social_graph.fetch import stream_name

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # up to 150 s waiting for a fresh hour, then 25-80 s

REDIS_URL = "redis://127.0.0.1:6379/0"
USERS = [WORLD.user_with_degree(degree) for degree in (30, 40, 60)]
# One seed: its fetch claims all of depth 1 before any of them runs, so the counts per depth do not depend on
# the order the workers take the fetches in (with two seeds, a fast seed's children could claim the other's).
SEED, CRAWL, MAX_DEPTH, MAX_VIDEOS = SEEDS[0], "e2e", 2, 30
STALE_BATCH = 100
SETTLE_S = 240.0
HOUR_LEFT_MS = 150_000  # the maps must fetch within the hour they rank: X serves only the current trends

Ranked = dict[str, list[tuple[str, float]]]


@dataclass(frozen=True)
class Stack:
    """What the processes share: the environment (the whole configuration) and where the stores are."""

    folder: Path
    hour_ms: int
    env: dict[str, str]
    namespace: str
    index_url: str
    rankings_url: str
    archive: Path

    def ebbflow(self, *args: str) -> str:
        """Run one CLI command to its end; its stdout (the test fails unless it exits 0)."""
        run = subprocess.run(
            [EBBFLOW, *args],
            cwd=self.folder,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, f"ebbflow {' '.join(args)} exited {run.returncode}: {run.stdout}{run.stderr}"
        return run.stdout

    def submit(self, pack: str, **params: str) -> str:
        return self.ebbflow("pack", "submit", pack, *(f"--param={key}={value}" for key, value in params.items()))

    def open_queue(self) -> JobStore:
        return open_store(Settings(store="redis", redis=RedisSettings(url=REDIS_URL, namespace=self.namespace)))


@dataclass(frozen=True)
class Readers:
    """The packs' own readers on the stores the head's jobs wrote."""

    queue: JobStore
    index: VideoIndex
    rankings: Rankings


@pytest.fixture
def hour_ms() -> int:
    """This hour, when enough of it is left for the maps; else the next one, waited for."""
    now_ms = time.time() * 1000
    left_ms = hour_start(round(now_ms)) + HOUR_MS - now_ms
    if left_ms < HOUR_LEFT_MS:
        time.sleep(left_ms / 1000 + 0.5)
    return hour_start(round(time.time() * 1000))


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh MariaDB database for the index, as a packs.index URL; dropped afterwards."""
    name = f"ebbflow_t_{uuid.uuid4().hex[:12]}"
    admin = mysql_admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        yield f"mysql://{MYSQL['user']}@{MYSQL['host']}:{MYSQL['port']}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture
def namespace() -> Iterator[str]:
    """A fresh Redis namespace (the rankings prefix starts with it too); its keys are deleted afterwards."""
    redis_client().close()  # fails the test with how to start Redis when it is not running
    unique = f"t-{uuid.uuid4().hex}"
    try:
        yield unique
    finally:
        delete_redis_keys(unique)
    assert leftover_redis_keys(unique) == []


@pytest.fixture
def emulator(workdir: Path) -> Iterator[str]:
    """`ebbflow emulate` serving the default world, the one the pack tests' oracles imported above ask (a
    smaller one starts no faster: the world is computed lazily); its base URL."""
    port, config = free_port(), WORLD.config
    world = ["--seed", str(config.seed), "--users", str(config.users), "--videos", str(config.videos)]
    process = start("emulate", "--port", str(port), *world, cwd=workdir)
    try:
        base_url = f"http://127.0.0.1:{port}"
        _first_answer(f"{base_url}/2/users/1/following?max_results=1", process)
        yield base_url
    finally:
        stop(process)


@pytest.fixture
def stack(workdir: Path, hour_ms: int, database: str, namespace: str, emulator: str) -> Stack:
    """The configuration, all in the environment (`workdir` took out any EBBFLOW_* from outside)."""
    rankings_url = f"{REDIS_URL}?prefix={namespace}-packs:"
    env = {
        "EBBFLOW_STORE": "redis",
        "EBBFLOW_REDIS__URL": REDIS_URL,
        "EBBFLOW_REDIS__NAMESPACE": namespace,
        "EBBFLOW_PACKS__INDEX": database,
        "EBBFLOW_PACKS__RANKINGS": rankings_url,
        "EBBFLOW_PACKS__ARCHIVE": str(workdir / "archive"),
        "EBBFLOW_PACKS__EMULATOR": emulator,  # the sources need no tokens: against it a stand-in is sent
        "EBBFLOW_HEAD__METRICS_PORT": str(free_port()),
    }
    return Stack(workdir, hour_ms, env, namespace, database, rankings_url, workdir / "archive")


@pytest.fixture
def ray_address(stack: Stack) -> Iterator[str]:
    """`ebbflow local-cluster` with a spot and an on-demand node (not given the stack's environment: the head
    ships its settings to the jobs); its address. Started last, stopped first."""
    cluster = start("local-cluster", "--spot", "1", "--ondemand", "1", cwd=stack.folder)
    try:
        yield address_of(cluster)
    finally:
        out = stop(cluster)
    assert "local cluster stopped" in out, out


def address_of(cluster: subprocess.Popen[str]) -> str:
    """The address `ebbflow local-cluster` prints once the cluster is up (on a loaded machine Ray may log first)."""
    before: list[str] = []
    for line in cluster.stdout or ():
        if line.startswith("ray address: "):
            return line.removeprefix("ray address: ").strip()
        before.append(line)
    pytest.fail(f"ebbflow local-cluster exited {cluster.wait()} without printing its address: {''.join(before)}")


def test_the_head_runs_every_pack_into_redis_and_mariadb(stack: Stack, ray_address: str) -> None:
    head = start("head", "--ray-address", ray_address, cwd=stack.folder, env=stack.env)
    try:
        with ExitStack() as opened:
            queue = opened.enter_context(closing(stack.open_queue()))
            # given social-graph users, an hour of hot topics and a capped crawl, submitted to the running head
            submit_first_packs(stack)
            # when the head has run them
            wait_settled(queue, head)
            readers = open_readers(stack, queue, opened)
            # then their results are in the stores
            streams = check_social_graph(readers)
            hot = check_hot_topics(stack, readers)
            check_crawl(stack, readers)
            # and when a stale sweep re-checks every video they found, the dead ones are marked and unranked
            swept = sweep(stack, readers, head)
            check_sweep(readers, swept, {**streams, **hot})
        head_out = stop(head)
    finally:
        if head.poll() is None:
            stop(head)
    # and the head ran every job once, none dead-lettered, and `ebbflow status` says the queue is settled
    check_head_and_status(stack, head_out, stale_batches=math.ceil(len(swept) / STALE_BATCH))


def submit_first_packs(stack: Stack) -> None:
    out = stack.submit("social-graph", users=",".join(USERS), activity="new-signup")
    assert f"planned {len(USERS)} jobs" in out, out
    out = stack.submit("hot-topics", woeids=",".join(map(str, PLACES)), hour=label(stack.hour_ms))
    assert f"planned {len(PLACES)} jobs" in out, out
    out = stack.submit("related-crawl", seeds=SEED, max_depth=str(MAX_DEPTH), max_videos=str(MAX_VIDEOS), name=CRAWL)
    assert "planned 1 jobs" in out, out


def wait_settled(queue: JobStore, head: subprocess.Popen[str], timeout_s: float = SETTLE_S) -> None:
    """Until nothing is pending, running or waiting to retry (the head must keep running meanwhile)."""
    deadline = time.monotonic() + timeout_s
    while not (stats := queue.stats()).settled:
        assert head.poll() is None, f"ebbflow head exited {head.returncode}: {stop(head)}"
        assert time.monotonic() < deadline, f"the queue did not settle within {timeout_s} s: {stats}"
        time.sleep(0.5)
    assert stats.dead == 0, f"{stats.dead} dead letters: {queue.dead_letters(10, 0)}"


def open_readers(stack: Stack, queue: JobStore, opened: ExitStack) -> Readers:
    index = opened.enter_context(closing(open_index(stack.index_url)))
    rankings = opened.enter_context(closing(open_rankings(stack.rankings_url)))
    return Readers(queue, index, rankings)


def check_social_graph(readers: Readers) -> Ranked:
    """Each user's stream holds what the world says the friends shared, all of it in the index; the streams."""
    streams: Ranked = {}
    for user in USERS:
        streams[stream_name(user)] = readers.rankings.top(stream_name(user), 10_000)
        stream = {video for video, _ in streams[stream_name(user)]}
        assert_stream_matches_world(stream, user, lookback_days=14)
        assert set(readers.index.get(sorted(stream))) == stream
        assert readers.index.cursor(user, "facebook") is not None and readers.index.cursor(user, "x") is not None
    return streams


def check_hot_topics(stack: Stack, readers: Readers) -> Ranked:
    """Each place's ranking (and the global one) for the hour, of videos its trends were about, and the
    hour's Parquet partitions in the archive; the rankings."""
    hour = stack.hour_ms
    places: list[int | str] = [*PLACES, "global"]
    names = {layout.ranking_name(place, hour) for place in places}
    assert {name for name in readers.rankings.names("hot:") if name.endswith(label(hour))} == names
    hot = {name: readers.rankings.top(name, 1000) for name in names}
    for woeid in PLACES:
        ranked = [video for video, _ in hot[layout.ranking_name(woeid, hour)]]
        assert len(ranked) == 50 and all(map(is_alive, ranked))
        assert sum(video in topic_videos(woeid, hour) for video in ranked[:10]) >= 9, (woeid, ranked[:10])
    archive = Archive.from_uri(str(stack.archive))
    per_place = {part(hour, woeid) for woeid in PLACES for part in (layout.tweets, layout.trends, layout.contexts)}
    assert set(archive.list(layout.ROOT)) == {*per_place, layout.hot(hour)}
    assert archive.read_parquet(layout.hot(hour)).num_rows > 0
    assert all(archive.read_parquet(layout.tweets(hour, woeid)).num_rows > 0 for woeid in PLACES)
    return hot


def check_crawl(stack: Stack, readers: Readers) -> None:
    """The crawl finished at its videos cap, breadth first (the world's related links), with a summary."""
    with closing(open_crawl_state(stack.rankings_url)) as state:
        summary = state.summary(CRAWL)
    assert summary is not None and summary.finished_ms is not None, summary
    assert summary.stop_reason == "max_videos" and summary.claimed == summary.done == MAX_VIDEOS
    assert summary.cut_by_cap > 0 and summary.cut_by_depth > 0
    truth = bfs([SEED], MAX_DEPTH)
    first = sum(depth == 1 for depth in truth.values())
    second = min(sum(depth == 2 for depth in truth.values()), MAX_VIDEOS - 1 - first)
    assert [(d.depth, d.claimed, d.done) for d in summary.depths] == [(0, 1, 1), (1, first, first), (2, second, second)]
    # the index holds the seed and its related videos with their titles, and the seed's links
    crawled = [video for video, depth in truth.items() if depth < 2 and not is_dead(video)]
    stored = readers.index.get(crawled)
    assert {video: stored[video].title for video in crawled} == {video: title(video) for video in crawled}
    seed = WORLD.video(SEED)
    assert seed is not None and readers.index.related(SEED) == list(seed.related)


def sweep(stack: Stack, readers: Readers, head: subprocess.Popen[str]) -> list[str]:
    """Submit a stale sweep over every video in the index and wait for it; the videos it had to check."""
    swept = [video.video_id for video in readers.index.due_for_check(2**62, 100_000)]
    assert len(swept) == readers.index.count() > STALE_BATCH
    out = stack.submit("stale-videos", older_than_days="0", batch_size=str(STALE_BATCH))
    assert f"planned {math.ceil(len(swept) / STALE_BATCH)} jobs" in out, out
    wait_settled(readers.queue, head)
    return swept


def check_sweep(readers: Readers, swept: list[str], ranked_before: Ranked) -> None:
    """Exactly the world's dead videos are stale, every one was checked, and every ranking lost the dead ones."""
    dead = {video for video in swept if is_dead(video)}
    assert dead, "the sweep had no dead link to find"
    stored = readers.index.get(swept)
    assert {video for video, found in stored.items() if found.stale} == dead
    assert all(found.last_checked_ms is not None for found in stored.values())
    assert readers.index.count() == len(swept) and readers.index.count(stale=True) == len(dead)
    after = {name: readers.rankings.top(name, 10_000) for name in readers.rankings.names()}
    assert after == {name: [(v, s) for v, s in ranked if v not in dead] for name, ranked in ranked_before.items()}
    assert any(len(after[name]) < len(ranked) for name, ranked in ranked_before.items())


def check_head_and_status(stack: Stack, head_out: str, stale_batches: int) -> None:
    counts = re.search(r"head stopped: leased (\d+), done (\d+), retried \d+, dead (\d+)", head_out)
    assert counts is not None, head_out
    jobs = len(USERS) + len(PLACES) + 1 + MAX_VIDEOS + stale_batches  # the maps' reduce is one job
    assert (int(counts[2]), int(counts[3])) == (jobs, 0), head_out
    shown = " ".join(stack.ebbflow("status").split())
    assert "no jobs pending or running" in shown and "dead letters: 0" in shown, shown
    assert CRAWL in shown and "done: max_videos" in shown, shown


def is_dead(video_id: str) -> bool:
    video = WORLD.video(video_id)
    return video is not None and video.status != "alive"


def title(video_id: str) -> str | None:
    video = WORLD.video(video_id)
    return None if video is None else video.title
