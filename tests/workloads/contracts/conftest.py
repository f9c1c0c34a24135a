"""Backends for the storage contract suites: `video_index` (sqlite, mysql), `rankings` (sqlite, redis) and
`crawl_backend` (sqlite, redis-set, redis-bloom: the Redis backend with either dedupe mode).

Every test gets a fresh backend of its own: a new SQLite file in tmp_path, a new MariaDB database
`ebbflow_t_<hex>` (dropped at teardown), or a new Redis key prefix `t-<hex>:` in db 0. At teardown the Redis
rankings and crawls are deleted through the port; a key of the prefix left after that is a leak (a holders
set out of step, say) and fails the test, as does a crawl row left in SQLite. An unreachable server fails the
test with one line: never skipped.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
import redis

from workloads.crawl_state import CrawlCaps, CrawlState, Dedupe, open_crawl_state
from workloads.crawl_state.sqlite import TABLES as CRAWL_TABLES
from workloads.index import MySQLVideoIndex, SQLiteVideoIndex, VideoIndex
from workloads.rankings import DEFAULT_MAX_LEN, Rankings, RedisRankings, SQLiteRankings

MYSQL: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 0

IndexOpener = Callable[[], VideoIndex]
RankingsFactory = Callable[..., Rankings]


def mysql_admin() -> pymysql.connections.Connection[Any]:
    """A root connection to the test server, or the test fails saying the server is down."""
    unreachable = None
    try:
        return pymysql.connect(**MYSQL, autocommit=True, connect_timeout=5)
    except pymysql.err.OperationalError as err:
        unreachable = (
            f"MariaDB at {MYSQL['host']}:{MYSQL['port']} is unreachable ({err}); start it: service mariadb start"
        )
    pytest.fail(unreachable, pytrace=False)  # outside the except block: one clear line


def redis_admin() -> redis.Redis:
    """A decoding client on the test server, or the test fails saying the server is down."""
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, decode_responses=True)
    unreachable = None
    try:
        client.ping()
    except redis.ConnectionError as err:
        unreachable = (
            f"Redis at {REDIS_HOST}:{REDIS_PORT} is unreachable ({err}); start it: redis-server --daemonize yes"
        )
    if unreachable is not None:
        client.close()
        pytest.fail(unreachable, pytrace=False)
    return client


@pytest.fixture(params=["sqlite", "mysql"])
def index_opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexOpener]:
    """open() -> a new, unmigrated VideoIndex object on this test's fresh backend (every call, the same one)."""
    opened: list[VideoIndex] = []
    database = f"ebbflow_t_{uuid.uuid4().hex[:12]}"
    admin = mysql_admin() if request.param == "mysql" else None
    if admin is not None:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{database}`")

    def open_index() -> VideoIndex:
        index: VideoIndex
        if admin is None:
            index = SQLiteVideoIndex(tmp_path / "index.db")
        else:
            index = MySQLVideoIndex(**MYSQL, database=database)
        opened.append(index)
        return index

    yield open_index
    for index in opened:
        index.close()
    if admin is not None:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        admin.close()


@pytest.fixture
def video_index(index_opener: IndexOpener) -> VideoIndex:
    """A fresh, migrated, empty index."""
    index = index_opener()
    index.migrate()
    return index


@pytest.fixture(params=["sqlite", "redis"])
def rankings_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RankingsFactory]:
    """make(max_len=DEFAULT_MAX_LEN) -> a Rankings object on this test's fresh backend (all share it)."""
    opened: list[Rankings] = []
    prefix = f"t-{uuid.uuid4().hex}:"
    admin = redis_admin() if request.param == "redis" else None

    def make(max_len: int = DEFAULT_MAX_LEN) -> Rankings:
        rankings: Rankings
        if admin is None:
            rankings = SQLiteRankings(tmp_path / "rankings.db", max_len=max_len)
        else:
            client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, decode_responses=True)
            rankings = RedisRankings(client, prefix, max_len=max_len)
        opened.append(rankings)
        return rankings

    yield make
    if admin is None:
        for rankings in opened:
            rankings.close()
        return
    cleaner = make()
    for name in cleaner.names():
        cleaner.delete(name)
    for rankings in opened:
        rankings.close()
    leaked = sorted(admin.scan_iter(match=f"{prefix}*", count=1000))
    if leaked:
        admin.delete(*leaked)
    admin.close()
    if leaked:
        pytest.fail(f"deleting every ranking left {len(leaked)} Redis keys behind: {leaked[:5]}", pytrace=False)


@pytest.fixture
def rankings(rankings_factory: RankingsFactory) -> Rankings:
    """A fresh, empty Rankings with the default max_len."""
    return rankings_factory()


class CrawlBackend:
    """One test's crawl store: `open()` gives another CrawlState on it (in this process; a child process can
    call open_crawl_state(url)), and `caps()` caps in this backend's dedupe mode."""

    def __init__(self, kind: str, url: str, dedupe: Dedupe) -> None:
        self.kind, self.url, self.dedupe = kind, url, dedupe
        self.opened: list[CrawlState] = []

    def open(self) -> CrawlState:
        state = open_crawl_state(self.url)
        self.opened.append(state)
        return state

    def caps(self, max_depth: int = 3, max_videos: int = 1000, bloom_error: float = 0.001) -> CrawlCaps:
        return CrawlCaps(max_depth, max_videos, self.dedupe, bloom_error)


@pytest.fixture(params=["sqlite", "redis-set", "redis-bloom"])
def crawl_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CrawlBackend]:
    """This test's fresh crawl store; at teardown every crawl is deleted, and anything left of them fails."""
    kind: str = request.param
    prefix = f"t-{uuid.uuid4().hex}:"
    admin = redis_admin() if kind.startswith("redis") else None
    path = tmp_path / "rankings.db"
    url = f"sqlite:///{path}" if admin is None else f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}?prefix={prefix}"
    backend = CrawlBackend(kind, url, "bloom" if kind == "redis-bloom" else "set")
    yield backend
    cleaner = backend.open()
    for crawl in cleaner.crawls():
        cleaner.delete(crawl)
    for state in backend.opened:
        state.close()
    leaked = crawl_rows(path) if admin is None else sorted(admin.scan_iter(match=f"{prefix}*", count=1000))
    if admin is not None:
        if leaked:
            admin.delete(*leaked)
        admin.close()
    if leaked:
        pytest.fail(f"deleting every crawl left {len(leaked)} behind: {leaked[:5]}", pytrace=False)


def crawl_rows(path: Path) -> list[str]:
    """The crawl tables that still hold rows, with their counts."""
    with sqlite3.connect(path) as db:
        counts = {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in CRAWL_TABLES}
    db.close()  # the context manager commits; it does not close
    return [f"{table}: {count} rows" for table, count in counts.items() if count]


@pytest.fixture
def crawl_state(crawl_backend: CrawlBackend) -> CrawlState:
    """A fresh, empty CrawlState."""
    return crawl_backend.open()
