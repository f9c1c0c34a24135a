"""Liveness: only strong evidence makes a video dead; anything unclear asks for a retry."""

from __future__ import annotations

import pytest

from workloads.sources.liveness import UNAVAILABLE_MARKER, Liveness, PageScan, classify, classify_scan

UNAVAILABLE_PAGE = f'<html><script>var x = {{{UNAVAILABLE_MARKER},"errorScreen":{{}}}};</script></html>'


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, "<html><title>A video - YouTube</title></html>", Liveness("alive", None)),
        (204, "", Liveness("retry", "incomplete page")),
        (200, "<html><title>A video - YouTube</title><body>Up next", Liveness("retry", "incomplete page")),
        (404, "Not Found", Liveness("dead", "404")),
        (410, "Gone", Liveness("dead", "410")),
        (200, UNAVAILABLE_PAGE, Liveness("dead", "unavailable page")),
        (429, "Too Many Requests", Liveness("retry", "429")),
        (500, "", Liveness("retry", "500")),
        (503, UNAVAILABLE_PAGE, Liveness("retry", "503")),
        (302, "", Liveness("retry", "unexpected 302")),
        (403, "", Liveness("retry", "unexpected 403")),
    ],
)
def test_classify(status: int, body: str, expected: Liveness) -> None:
    assert classify(status, body) == expected


def test_a_page_that_only_mentions_the_words_is_alive() -> None:
    # given a live video whose title happens to be "Video unavailable"
    body = '<meta property="og:title" content="Video unavailable"><script>{"playabilityStatus":{"status":"OK"}}</html>'
    # then only the player status counts
    assert classify(200, body) == Liveness("alive", None)


def test_a_verdict_is_a_plain_pair() -> None:
    verdict, reason = classify(404, "")
    assert (verdict, reason) == ("dead", "404")
    assert classify(410, "").verdict == "dead" and classify(410, "").reason == "410"


def scanned(body: bytes, chunk: int) -> PageScan:
    scan = PageScan()
    for start in range(0, len(body), chunk):
        scan.feed(body[start : start + chunk])
    scan.end()
    return scan


@pytest.mark.parametrize("chunk", [1, 7, 64, 100_000])
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (UNAVAILABLE_PAGE, Liveness("dead", "unavailable page")),
        ("<html><title>A video - YouTube</title></html>\n", Liveness("alive", None)),
        ("<html><title>A video - YouTube</title><body>Up next", Liveness("retry", "incomplete page")),
        ('<html><script>{"playabilityStatus":{"status":"OK"}}</script>', Liveness("alive", None)),  # cut after it
    ],
)
def test_a_page_fed_in_chunks_is_judged_alike_wherever_the_chunks_split(
    body: str, chunk: int, expected: Liveness
) -> None:
    assert classify_scan(200, scanned(body.encode(), chunk)) == expected


def test_a_scan_cut_before_the_end_is_no_proof() -> None:
    # given a page read only partly, with no player status in the part read
    scan = PageScan()
    scan.feed(b"<html>" + b"x" * 5000)
    # then it asks for a retry; the status alone still settles a 404
    assert classify_scan(200, scan) == Liveness("retry", "page too large (5006 bytes read)")
    assert classify_scan(404, scan) == Liveness("dead", "404")
    assert classify_scan(302, scan) == Liveness("retry", "unexpected 302")
