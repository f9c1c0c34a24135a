"""Video links: every pasted form maps to its canonical id; everything else maps to None."""

from __future__ import annotations

import pytest

from workloads.sources.urls import video_id_from_url, video_ids_in, watch_url
from workloads.world import VIDEO_LINK_FORMS

VID = "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.youtube.com/watch?v={VID}",
        f"https://youtu.be/{VID}?t=42",
        f"https://m.youtube.com/watch?v={VID}&feature=share",
        f"http://youtube.com/watch?v={VID}",
        f"https://www.youtube.com/shorts/{VID}",
        f"https://www.youtube.com/embed/{VID}",
        f"https://www.youtube.com/watch?feature=share&v={VID}&list=PL123",
        f"https://WWW.YouTube.com/watch?v={VID}",
        f"https://www.youtube-nocookie.com/embed/{VID}?rel=0",
        f"https://www.youtube.com/live/{VID}",
        f"www.youtube.com/watch?v={VID}",
        f"youtu.be/{VID}",
        f"  https://youtu.be/{VID}  ",
    ],
)
def test_every_form_gives_the_canonical_id(url: str) -> None:
    assert video_id_from_url(url) == VID


def test_every_form_the_world_uses_is_understood() -> None:
    assert [video_id_from_url(form.format(id=VID)) for form in VIDEO_LINK_FORMS] == [VID] * len(VIDEO_LINK_FORMS)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/news/123",
        f"https://example.com/watch?v={VID}",
        f"https://notyoutube.com/watch?v={VID}",
        f"https://youtube.com.evil.example/watch?v={VID}",
        "https://www.youtube.com/watch?v=short",
        f"https://www.youtube.com/watch?v={VID}x",
        "https://www.youtube.com/watch?v=dQw4w9WgXc!",
        "https://www.youtube.com/watch",
        "https://www.youtube.com/",
        "https://www.youtube.com/channel/UC1234567890",
        "https://www.youtube.com/@somechannel",
        f"https://www.youtube.com/playlist?list={VID}",
        "https://youtu.be/",
        f"ftp://youtube.com/watch?v={VID}",
        "https://[::1/watch",
        "",
        "not a url at all",
    ],
)
def test_junk_gives_none(url: str) -> None:
    assert video_id_from_url(url) is None


def test_ids_in_a_post_are_ordered_and_unique_links_first() -> None:
    # given a post whose text and links name videos in several forms, with duplicates and non-video links
    other = "abcdefghijk"
    text = f"see https://youtu.be/{other}, and youtube.com/shorts/{VID}! also https://example.com/x (https://youtu.be/{other})"
    links = (f"https://www.youtube.com/watch?v={VID}", "https://example.com/news/1")
    # when / then: structured links first, then the text, each id once
    assert video_ids_in(text, links) == [VID, other]
    assert video_ids_in("nothing here", ()) == []


def test_watch_url_joins_base_and_id() -> None:
    assert watch_url("http://127.0.0.1:8080/", VID) == f"http://127.0.0.1:8080/watch?v={VID}"
    assert video_id_from_url(watch_url("https://www.youtube.com", VID)) == VID
