"""Liveness: only strong evidence makes a video dead; anything unclear asks for a retry; every state of a video
settles; the player's status decides, never its words, and a page read whole or in chunks is judged alike."""

from __future__ import annotations

import json

import pytest

from workloads.emulator.watch_render import render_watch
from workloads.sources.liveness import (
    PLAYER_WINDOW,
    UNAVAILABLE_MARKER,
    Liveness,
    PageScan,
    classify,
    classify_scan,
)
from workloads.world import World, WorldConfig

UNAVAILABLE_PAGE = f'<html><script>var x = {{{UNAVAILABLE_MARKER},"errorScreen":{{}}}};</script></html>'


def page(status: dict[str, object], details: dict[str, object] | None = None, after: str = "", pad: int = 0) -> str:
    """A watch page whose player response holds this status (then `pad` bytes of other fields, then
    videoDetails), then `after` in its body; compact JSON, as the site writes it."""
    player: dict[str, object] = {"responseContext": {}, "playabilityStatus": status, "streamingData": "s" * pad}
    if details is not None:
        player["videoDetails"] = details
    text = json.dumps(player, ensure_ascii=False, separators=(",", ":"))
    script = f"<script>var ytInitialPlayerResponse = {text};</script>"
    return f"<!DOCTYPE html><html><head></head><body>{script}{after}</body></html>"


LIVE_DATA = '<script>var ytInitialData = {"x":{"videoDetails":{"isLiveContent":true}}};</script>'
# One page per player state, in words of several languages: the words never decide.
PLAYER_CASES = [
    (page({"status": "OK"}), Liveness("alive", None)),
    (page({"status": "ERROR", "reason": "Video nicht verfügbar"}), Liveness("dead", "unavailable page")),
    (page({"status": "ERROR", "reason": "動画を再生できません"}), Liveness("dead", "unavailable page")),
    (page({"status": "LOGIN_REQUIRED", "messages": ["Ini video peribadi."]}), Liveness("dead", "private")),
    (
        page({"status": "LOGIN_REQUIRED", "reason": "Confirmez votre âge", "desktopLegacyAgeGateReason": 1}),
        Liveness("alive", "age-restricted"),
    ),
    (page({"status": "AGE_CHECK_REQUIRED", "reason": "x"}), Liveness("alive", "age-restricted")),
    (page({"status": "AGE_VERIFICATION_REQUIRED"}), Liveness("alive", "age-restricted")),
    (
        page({"status": "LOGIN_REQUIRED", "reason": "Sign in to confirm you're not a bot"}),
        Liveness("retry", "sign-in required"),
    ),
    (
        page({"status": "UNPLAYABLE", "reason": "Vidéo non disponible"}, {"isLiveContent": False}),
        Liveness("alive", "unplayable"),
    ),
    (
        page({"status": "UNPLAYABLE", "reason": "Aufzeichnung nicht verfügbar"}, {"isLiveContent": True}),
        Liveness("dead", "recording not available"),
    ),
    # a related live video in ytInitialData says nothing about this one
    (page({"status": "UNPLAYABLE", "reason": "x"}, after=LIVE_DATA), Liveness("alive", "unplayable")),
    (page({"status": "LIVE_STREAM_OFFLINE", "reason": "Premieres soon"}), Liveness("alive", "live stream offline")),
    (page({"status": "CONTENT_CHECK_REQUIRED"}), Liveness("alive", "content check")),
    (page({"status": "SOMETHING_NEW"}), Liveness("retry", "player status SOMETHING_NEW")),
]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, "<html><title>A video - YouTube</title></html>", Liveness("alive", None)),
        (204, "", Liveness("retry", "incomplete page")),
        (200, "<html><title>A video - YouTube</title><body>Up next", Liveness("retry", "incomplete page")),
        (200, '<html><script>{"playabilityStatus":{"status":"O', Liveness("retry", "incomplete page")),
        (200, '<html><script>{"playabilityStatus":[1]}</script></html>', Liveness("retry", "unreadable player status")),
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


@pytest.mark.parametrize(("body", "expected"), PLAYER_CASES)
def test_the_player_status_decides_in_any_language(body: str, expected: Liveness) -> None:
    assert classify(200, body) == expected


def test_pretty_printed_player_json_reads_the_same() -> None:
    player = {"playabilityStatus": {"status": "UNPLAYABLE"}, "videoDetails": {"isLiveContent": True}}
    body = f"<html><script>var ytInitialPlayerResponse = {json.dumps(player, indent=1)};</script></html>"
    assert classify(200, body) == Liveness("dead", "recording not available")


def test_a_page_that_only_mentions_the_words_is_alive() -> None:
    # given a live video whose title happens to be "Video unavailable"
    body = '<meta property="og:title" content="Video unavailable"><script>{"playabilityStatus":{"status":"OK"}}</html>'
    # then only the player status counts
    assert classify(200, body) == Liveness("alive", None)


def test_an_unplayable_page_whose_video_details_are_out_of_reach_is_not_called_dead() -> None:
    # given an UNPLAYABLE status followed by more than the player window before videoDetails
    body = page({"status": "UNPLAYABLE", "reason": "x"}, {"isLiveContent": True}, pad=PLAYER_WINDOW)
    # then it is not proven to be a live stream: alive (unplayable), whole or in chunks
    assert classify(200, body) == Liveness("alive", "unplayable")
    assert classify_scan(200, scanned(body.encode(), 4096)) == Liveness("alive", "unplayable")


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
        *PLAYER_CASES[:11],
    ],
)
def test_a_page_fed_in_chunks_is_judged_alike_wherever_the_chunks_split(
    body: str, chunk: int, expected: Liveness
) -> None:
    assert classify_scan(200, scanned(body.encode(), chunk)) == expected
    if body.rstrip().endswith("</html>"):  # whole: the two readings agree
        assert classify(200, body) == expected


def test_a_live_page_cut_short_is_no_page_to_crawl_but_a_dead_one_is_still_dead() -> None:
    alive, removed = PLAYER_CASES[0][0], PLAYER_CASES[1][0]
    assert classify(200, alive[:-30]) == Liveness("retry", "incomplete page")
    assert classify(200, removed[:-30]) == Liveness("dead", "unavailable page")


def test_realistic_pages_are_judged_alike_whole_and_in_chunks_and_read_only_to_the_status() -> None:
    # given the emulator's realistic page of one video of every kind, in two languages
    world = World(WorldConfig())
    kinds: dict[tuple[str, str | None], str] = {}
    for index in range(5000):
        video = world.video(world.video_id(index))
        assert video is not None
        kinds.setdefault((video.status, video.restriction), video.video_id)
    assert len(kinds) == 8  # alive, age-restricted, region-blocked and the five ways of dying
    for vid in kinds.values():
        for lang in ("en", "fr"):
            status, body = render_watch(world, vid, "realistic", lang)
            # when read whole and in 16 KB chunks until the status settles (as the stale checker reads)
            scan = PageScan()
            for start in range(0, len(body), 16_384):
                scan.feed(body[start : start + 16_384])
                if scan.judged is not None:
                    break
            else:
                scan.end()
            # then both readings agree, and a 200 page was judged before its end
            assert classify_scan(status, scan) == classify(status, body.decode())
            assert status != 200 or scan.size < len(body)


def test_a_scan_cut_before_the_end_is_no_proof() -> None:
    # given a page read only partly, with no player status in the part read
    scan = PageScan()
    scan.feed(b"<html>" + b"x" * 5000)
    # then it asks for a retry; the status alone still settles a 404
    assert classify_scan(200, scan) == Liveness("retry", "page too large (5006 bytes read)")
    assert classify_scan(404, scan) == Liveness("dead", "404")
    assert classify_scan(302, scan) == Liveness("retry", "unexpected 302")
