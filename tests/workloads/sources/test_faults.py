"""The adapters against an emulator that spoils its answers on purpose (workloads.emulator.faults): a 5xx, a body
cut short, a body of the wrong shape, an answer later than the client's timeout. Each call either returns what
the world holds or raises a SourceError naming the API; never another exception, and never wrong data. Retried,
every call gets the right answer in the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.workloads.sources.conftest import FAKE_START_S
from workloads.emulator import EmulatorServer
from workloads.emulator.faults import FAULT_KINDS, FaultKind, Faults
from workloads.sources.errors import SourceError
from workloads.sources.facebook import GraphClient
from workloads.sources.ratelimit import RetryPolicy
from workloads.sources.videos import VideoPages
from workloads.sources.x import XClient
from workloads.world import World, WorldConfig
from workloads.world.users import graph_app_friends, graph_token

FAST_RETRIES = RetryPolicy(retries=1, backoff_s=0.01, backoff_cap_s=0.01, max_wait_s=1)
TIMEOUT_S = 0.5
SLOW_S = 1.5  # later than TIMEOUT_S
NOW_MS = int(FAKE_START_S * 1000)
HOUR_MS = 3_600_000
US = 23424977


@dataclass
class Clients:
    graph: GraphClient
    x: XClient
    videos: VideoPages

    def close(self) -> None:
        for client in (self.graph, self.x, self.videos):
            client.close()


def clients_of(server: EmulatorServer) -> Clients:
    url = server.base_url
    return Clients(
        GraphClient(url, access_token="graph-token", policy=FAST_RETRIES, timeout_s=TIMEOUT_S),
        XClient(url, bearer_token="x-token", policy=FAST_RETRIES, timeout_s=TIMEOUT_S, max_wait_s=1),
        VideoPages(url, api_base_url=url, api_key="video-key", policy=FAST_RETRIES, timeout_s=TIMEOUT_S),
    )


def calls(world: World) -> dict[str, Callable[[Clients], Any]]:
    """Every adapter call the packs make, each with arguments the world has answers for."""
    user = world.user_with_degree(120)
    # Friends who use the app, each feed read with that friend's own token, as social-graph reads them.
    friends = list(graph_app_friends(world.config, int(user)))[:3]
    assert friends, "the test user needs friends who use the app"
    tokens = {friend: graph_token(friend) for friend in friends}
    alive = next(video for index in range(50) if (video := world.video(world.video_id(index))).status == "alive")
    trend = world.trends(US, NOW_MS)[0]
    hour = NOW_MS - NOW_MS % HOUR_MS
    return {
        "graph friends": lambda c: c.graph.friends_page(user, limit=50),
        "graph feeds (batch)": lambda c: c.graph.feeds(friends, since_ms=NOW_MS - 30 * 86_400_000, tokens=tokens),
        "x following": lambda c: c.x.following_page(user),
        "x timeline": lambda c: c.x.user_posts(user),
        "x trends": lambda c: c.x.trends(US),
        "x search": lambda c: c.x.search_recent(trend.query, start_time=_iso(hour - HOUR_MS), end_time=_iso(hour)),
        "video oembed": lambda c: c.videos.metadata(alive.video_id),
        "video related (watch page)": lambda c: c.videos.related(alive.video_id),
        "video search": lambda c: c.videos.search(trend.name, 10),
    }


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig())


@pytest.fixture(scope="module")
def truth(world: World) -> dict[str, Any]:
    """Each call's answer from an emulator that spoils nothing."""
    with EmulatorServer(WorldConfig(), clock=lambda: FAKE_START_S) as server:
        clients = clients_of(server)
        try:
            return {name: call(clients) for name, call in calls(world).items()}
        finally:
            clients.close()


@pytest.fixture
def spoiling() -> Iterator[Callable[[Faults], Clients]]:
    opened: list[tuple[EmulatorServer, Clients]] = []

    def start(faults: Faults) -> Clients:
        server = EmulatorServer(WorldConfig(), clock=lambda: FAKE_START_S, faults=faults).start()
        opened.append((server, clients_of(server)))
        return opened[-1][1]

    yield start
    for server, clients in opened:
        clients.close()
        server.stop()


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_call_fails_cleanly_when_every_answer_is_spoiled(
    kind: FaultKind, world: World, spoiling: Callable[[Faults], Clients]
) -> None:
    clients = spoiling(Faults(rate=1.0, kinds=(kind,), slow_s=SLOW_S))
    answered: dict[str, Any] = {}
    for name, call in calls(world).items():
        try:
            answered[name] = call(clients)
        except SourceError as err:
            assert str(err), name  # it says what failed
    assert not answered, f"spoiled answers taken for real ones: {answered}"


def test_with_some_answers_spoiled_every_call_retried_gets_the_worlds_answer(
    world: World, truth: dict[str, Any], spoiling: Callable[[Faults], Clients]
) -> None:
    clients = spoiling(Faults(rate=0.3, slow_s=SLOW_S, seed=11))
    failures: dict[str, int] = {}
    for name, call in calls(world).items():
        for _ in range(30):  # what the scheduler's retries do for a job, with the same call
            try:
                answer = call(clients)
            except SourceError:
                failures[name] = failures.get(name, 0) + 1
                continue
            assert answer == truth[name], name  # no spoiled answer was taken for a real one
            break
        else:
            pytest.fail(f"{name}: 30 tries and no clean answer")
    assert sum(failures.values()) > 0  # the spoiling did reach the adapters
