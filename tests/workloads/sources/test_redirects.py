"""Which redirects a liveness check follows: the same origin only, a bounded number of hops, no loops."""

from __future__ import annotations

import pytest
from yarl import URL

from workloads.sources.liveness import Liveness
from workloads.sources.redirects import MAX_REDIRECTS, after_redirects, next_hop

WATCH = URL("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
OTHER_HOST = Liveness("retry", "redirect to another host")


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/watch?v=dQw4w9WgXcQ&app=desktop", URL("https://www.youtube.com/watch?v=dQw4w9WgXcQ&app=desktop")),
        ("watch?v=other", URL("https://www.youtube.com/watch?v=other")),  # relative to the path
        ("https://WWW.YouTube.com:443/watch?v=x#t=10", URL("https://www.youtube.com:443/watch?v=x")),
        ("  /shorts/x  ", URL("https://www.youtube.com/shorts/x")),
        ("http://www.youtube.com/watch?v=x", OTHER_HOST),  # a downgrade to plain HTTP
        ("https://www.youtube.com:8443/watch?v=x", OTHER_HOST),
        ("https://consent.youtube.com/m?continue=x", OTHER_HOST),
        ("http://169.254.169.254/latest/meta-data/", OTHER_HOST),
        ("//169.254.169.254/latest/meta-data/", OTHER_HOST),  # scheme-relative
        ("https://www.youtube.com@169.254.169.254/", OTHER_HOST),  # the host after the userinfo is the host
        ("javascript:alert(1)", OTHER_HOST),
        ("https://www.youtube.com:99999/x", Liveness("retry", "unreadable redirect")),
        (None, Liveness("retry", "redirect without Location")),
        ("   ", Liveness("retry", "redirect without Location")),
    ],
)
def test_next_hop(location: str | None, expected: URL | Liveness) -> None:
    assert next_hop([WATCH], location) == expected


def test_a_hop_back_to_an_asked_url_is_a_loop() -> None:
    moved = URL("https://www.youtube.com/watch?v=b")
    assert next_hop([WATCH, moved], str(WATCH)) == Liveness("retry", "redirect loop")
    assert next_hop([WATCH], "/watch?v=dQw4w9WgXcQ") == Liveness("retry", "redirect loop")  # to itself


def test_hops_are_bounded() -> None:
    chain = [WATCH.with_query(v=str(n)) for n in range(MAX_REDIRECTS + 1)]  # the URL and MAX_REDIRECTS hops
    assert next_hop(chain[:-1], "/watch?v=next") == URL("https://www.youtube.com/watch?v=next")
    assert next_hop(chain, "/watch?v=next") == Liveness("retry", "too many redirects")
    assert next_hop([WATCH], "/watch?v=next", max_redirects=0) == Liveness("retry", "too many redirects")


@pytest.mark.parametrize(
    ("verdict", "statuses", "expected"),
    [
        (Liveness("dead", "404"), [], Liveness("dead", "404")),
        (Liveness("dead", "404"), [301], Liveness("dead", "404 after a permanent redirect")),
        (Liveness("dead", "410"), [301, 308], Liveness("dead", "410 after a permanent redirect")),
        (Liveness("dead", "404"), [302], Liveness("retry", "404 after a temporary redirect")),
        (
            Liveness("dead", "unavailable page"),
            [301, 307],
            Liveness("retry", "unavailable page after a temporary redirect"),
        ),
        (Liveness("dead", "404"), [303], Liveness("retry", "404 after a temporary redirect")),
        (Liveness("alive", None), [302, 303], Liveness("alive", None)),
        (Liveness("retry", "503"), [301], Liveness("retry", "503")),
    ],
)
def test_what_the_end_of_a_chain_proves(verdict: Liveness, statuses: list[int], expected: Liveness) -> None:
    assert after_redirects(verdict, statuses) == expected


def test_the_default_port_spelled_out_is_the_same_url() -> None:
    assert next_hop([WATCH], "https://WWW.YOUTUBE.COM:443/watch?v=dQw4w9WgXcQ") == Liveness("retry", "redirect loop")
