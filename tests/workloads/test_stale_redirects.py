"""The stale-video checker against real local sites: redirects followed only within the video's own origin and
judged carefully, never to another host; bodies read only up to a bound, connections released."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.workloads.sites import Handler, Site
from tests.workloads.test_stale_videos import IDS, StubRun, ranked, seed
from workloads.context import PackContext
from workloads.resources import Resources
from workloads.settings import PacksSettings
from workloads.stale_videos.checker import CheckLimits, check_urls
from workloads.stale_videos.fetch import MAX_BODY_BYTES
from workloads.stale_videos.pack import run_check

LIVE_PAGE = (
    "<!DOCTYPE html><html><head><title>A video - YouTube</title></head><body>"
    '<script>var ytInitialPlayerResponse = {"playabilityStatus":{"status":"OK"}};</script></body></html>'
)
LIMITS = CheckLimits(concurrency=4, per_host=4)
TEN_MB = 10 * 1024 * 1024
Verdict = tuple[str, str | None]


def redirect(status: int, location: str | None) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location} if location is not None else {})

    return handler


def answer(status: int, text: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text=text, content_type="text/html")

    return handler


def check(url: str, limits: CheckLimits = LIMITS) -> Verdict:
    verdict, reason = check_urls({"v": url}, limits)["v"]
    return verdict, reason


@pytest.fixture
def metadata() -> Iterator[Site]:
    """Stands in for 169.254.169.254: another host (here another port) that must never be asked."""
    with Site({"/latest/meta-data/": answer(200, "<html>ami-id</html>")}) as site:
        yield site


@pytest.mark.parametrize(
    ("status", "location", "target", "expected"),
    [
        (301, "/gone", "/gone", ("dead", "404 after a permanent redirect")),
        (308, "/removed", "/removed", ("dead", "410 after a permanent redirect")),
        (302, "/gone", "/gone", ("retry", "404 after a temporary redirect")),
        (303, "gone", "/gone", ("retry", "404 after a temporary redirect")),  # relative to /watch
        (307, "/live", "/live", ("alive", None)),
        (302, "/live?v=a&app=desktop", "/live", ("alive", None)),
    ],
)
def test_a_same_host_redirect_is_followed_and_judged_by_how_it_moved(
    status: int, location: str, target: str, expected: Verdict
) -> None:
    routes = {
        "/watch": redirect(status, location),
        "/gone": answer(404, "<html>Not Found</html>"),
        "/removed": answer(410, "<html>Gone</html>"),
        "/live": answer(200, LIVE_PAGE),
    }
    with Site(routes) as site:
        assert check(f"{site.base_url}/watch?v=a") == expected
        assert site.hits == {"/watch": 1, target: 1}  # followed once, not retried: it would answer the same


def test_an_absolute_redirect_to_the_same_origin_is_followed() -> None:
    async def to_live(request: web.Request) -> web.Response:
        return web.Response(status=301, headers={"Location": f"http://{request.host}/live?v=a"})

    with Site({"/v/a": to_live, "/live": answer(200, LIVE_PAGE)}) as site:
        assert check(f"{site.base_url}/v/a") == ("alive", None)
        assert site.hits == {"/v/a": 1, "/live": 1}


def test_another_port_is_another_host() -> None:
    with Site({"/watch": answer(404, "<html>Not Found</html>")}) as new:
        with Site({"/v/a": redirect(301, f"{new.base_url}/watch?v=a")}) as old:
            assert check(f"{old.base_url}/v/a") == ("retry", "redirect to another host")
        assert new.hits == {}


def test_a_redirect_to_another_host_is_never_requested(metadata: Site, tmp_path: Path) -> None:
    # given a site whose watch pages (all of them, live videos too) redirect to the metadata address
    target = f"{metadata.base_url}/latest/meta-data/"
    with Site({"/watch": redirect(302, target)}) as site:
        # when they are checked
        verdict = check(f"{site.base_url}/watch?v=a", CheckLimits(attempts=3))
        # then the other host is never asked, the video is unknown, and it is not asked again within the sweep
        assert verdict == ("retry", "redirect to another host")
        assert metadata.hits == {}
        assert site.hits == {"/watch": 1}


@pytest.mark.parametrize(
    ("routes", "expected", "hits"),
    [
        (
            {"/watch": redirect(302, "/a"), "/a": redirect(302, "/b"), "/b": redirect(301, "/a")},
            ("retry", "redirect loop"),
            {"/watch": 1, "/a": 1, "/b": 1},
        ),
        (
            {"/watch": redirect(302, "/watch?v=a")},  # to itself
            ("retry", "redirect loop"),
            {"/watch": 1},
        ),
        (
            {"/watch": redirect(301, "/1"), **{f"/{n}": redirect(301, f"/{n + 1}") for n in range(1, 9)}},
            ("retry", "too many redirects"),
            {"/watch": 1, "/1": 1, "/2": 1, "/3": 1},  # the URL and three hops; /4 is never asked
        ),
        ({"/watch": redirect(302, None)}, ("retry", "redirect without Location"), {"/watch": 1}),
        ({"/watch": redirect(301, "http://[::1/x")}, ("retry", "unreadable redirect"), {"/watch": 1}),
    ],
)
def test_a_redirect_that_leads_nowhere_is_unknown(
    routes: dict[str, Handler], expected: Verdict, hits: dict[str, int]
) -> None:
    with Site(routes) as site:
        assert check(f"{site.base_url}/watch?v=a") == expected
        assert site.hits == hits


class Streamer:
    """A handler that streams a 10 MB body in 64 KB writes and records how much it handed over before the
    client went away."""

    def __init__(self, status: int, head: bytes = b"<html>") -> None:
        self.status, self.head = status, head
        self.sent: list[int] = []
        self.done = threading.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # A small send buffer of our own, so what the server counts as handed over is close to what left it.
        sock = request.transport.get_extra_info("socket") if request.transport is not None else None
        assert sock is not None
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        response = web.StreamResponse(status=self.status, headers={"Content-Type": "text/html"})
        response.content_length = TEN_MB
        await response.prepare(request)
        filler, sent = b"<p>filler</p>" * 5041, 0  # 65,533 bytes
        try:
            await response.write(self.head)
            sent = len(self.head)
            while sent < TEN_MB:
                part = filler[: TEN_MB - sent]
                await response.write(part)
                sent += len(part)
            await response.write_eof()
        except ConnectionError:  # the client closed the connection: what we stop on
            pass
        finally:
            self.sent.append(sent)
            self.done.set()
        return response


@pytest.mark.parametrize(
    ("status", "head", "expected"),
    [
        (200, b"<html>", ("retry", "page too large")),
        (200, LIVE_PAGE.encode()[:-7], ("alive", None)),  # the player status comes first
        (404, b"<html>", ("dead", "404")),
    ],
)
def test_a_ten_megabyte_body_is_never_read_whole(status: int, head: bytes, expected: Verdict) -> None:
    streamer = Streamer(status, head)
    with Site({"/watch": streamer.handle}) as site:
        tracemalloc.start()
        try:
            verdict = check(f"{site.base_url}/watch?v=a")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert streamer.done.wait(10)
    # the server stopped long before the end (what it handed over includes the sockets' buffers), once
    assert len(streamer.sent) == 1 and streamer.sent[0] < TEN_MB // 2
    assert peak < 2 * 1024 * 1024  # the process (client and server) never held the body
    assert (verdict[0], (verdict[1] or "").split(" (")[0] or None) == expected
    if verdict[1] and verdict[1].startswith("page too large"):  # it says how far it read
        assert int(verdict[1].split("(")[1].split()[0]) <= MAX_BODY_BYTES + 16 * 1024


def test_a_compressed_bomb_is_read_only_to_the_bound() -> None:
    # given a page of 10 MB of blanks sent gzipped (about 10 KB on the wire)
    bomb = gzip.compress(b"<html>" + b" " * TEN_MB)

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})

    with Site({"/watch": page}) as site:
        tracemalloc.start()
        try:
            verdict = check(f"{site.base_url}/watch?v=a")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # then it is read (decompressed) only up to the bound, never whole
    assert verdict[0] == "retry" and (verdict[1] or "").startswith("page too large")
    assert peak < 2 * 1024 * 1024


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_redirects", -1, "max_redirects -1 must be 0 or more"),
        ("max_body_bytes", 100, "max_body_bytes 100 must be at least 1024"),
    ],
)
def test_limits_out_of_range_say_which_and_why(field: str, value: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CheckLimits(**{field: value})  # type: ignore[arg-type]


def test_connections_are_reused_after_small_bodies_and_dropped_after_cut_ones() -> None:
    # given a site that records which client connection (its port) asked each time
    peers: list[int] = []
    big = Streamer(200)

    async def page(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername")[1])  # type: ignore[union-attr]
        return web.Response(text=LIVE_PAGE, content_type="text/html")

    limits = CheckLimits(concurrency=1, per_host=1)
    with Site({"/watch": page, "/big": big.handle, "/gone": answer(404, "x" * 100_000)}) as site:
        urls = {f"v{n}": f"{site.base_url}/watch?v={n}" for n in range(20)}
        # when small pages are checked one at a time, then bodies cut short, then small pages again
        assert {v.verdict for v in check_urls(urls, limits).values()} == {"alive"}
        assert check(f"{site.base_url}/big", limits)[0] == "retry"
        assert check(f"{site.base_url}/gone", limits) == ("dead", "404")
        assert {v.verdict for v in check_urls(urls, limits).values()} == {"alive"}
    # then the first twenty shared one connection, and the cut bodies' connections were closed, not reused
    assert len(set(peers[:20])) == 1
    assert len(set(peers[20:])) == 1 and peers[20] != peers[0]


@pytest.fixture
def redirecting_context(tmp_path: Path, metadata: Site) -> Iterator[tuple[PackContext, Site]]:
    """A pack context whose video site answers every watch page with a temporary redirect: half of them to a
    404 on the same host (a consent or sign-in path it does not serve to us), half to another host."""
    elsewhere = f"{metadata.base_url}/latest/meta-data/"

    async def watch(request: web.Request) -> web.Response:
        to = "/consent" if IDS.index(request.query["v"]) % 2 else elsewhere
        return web.Response(status=302, headers={"Location": to})

    seed(tmp_path)
    with Site({"/watch": watch, "/consent": answer(404, "<html>Not Found</html>")}) as site:
        settings = PacksSettings(
            emulator=site.base_url,
            index=f"sqlite:///{tmp_path / 'index.db'}",
            rankings=f"sqlite:///{tmp_path / 'rankings.db'}",
        )
        resources = Resources(settings)
        yield PackContext(StubRun(), resources, "stale-videos"), site
        resources.close()


def test_a_batch_whose_site_redirects_marks_nothing_stale(
    redirecting_context: tuple[PackContext, Site], metadata: Site, tmp_path: Path
) -> None:
    # given a site whose watch pages (live videos too) redirect to a 404 or to another host, when a batch runs
    ctx, site = redirecting_context
    payload = {"videos": ",".join(IDS[:40]), "planned_ms": round(time.time() * 1000)}
    result = run_check({**payload, "concurrency": 8, "per_host": 8, "per_host_rate": 0}, ctx)
    # then every video is unknown (left for the next sweep), none is stale, every ranking keeps them
    assert result["unknown"] == 40 and result["checked"] == 0 and result["dead"] == 0
    assert ctx.resources.index.count(stale=True) == 0
    assert set(IDS[:40]) <= ranked(tmp_path)
    assert site.hits == {"/watch": 40, "/consent": 20} and metadata.hits == {}
