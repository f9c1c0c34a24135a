"""The CrawlState contract, continued, against every backend: a claimed video's life by its seq, from its claim to
the crawl's end. Seqs out of range; the done bitmap, exact once; a parent's claim kept only until its finish; what
a finished crawl keeps (its summary and seen set, nothing else); duplicate deliveries late in a crawl and after
its end. Where it matters what is stored, the test looks at the keys or rows themselves."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.workloads.contracts.conftest import CrawlBackend, crawl_rows, redis_admin
from workloads.crawl_state import ClaimResult, CrawlState, FinishResult, RedisCrawlState, SQLiteCrawlState

T0 = 1_700_000_000_000


def recorded_claims(state: CrawlState, crawl: str) -> list[int]:
    """The parent seqs with a claim recorded, read from the store itself."""
    if isinstance(state, RedisCrawlState):
        admin = redis_admin()
        try:
            return sorted(int(parent) for parent in admin.hkeys(state.keys(crawl).claims))
        finally:
            admin.close()
    assert isinstance(state, SQLiteCrawlState)
    with sqlite3.connect(state.path) as db:
        rows = db.execute(
            "SELECT parent FROM crawl_claims WHERE crawl = (SELECT id FROM crawls WHERE name = ?)", (crawl,)
        ).fetchall()
    db.close()
    return sorted(int(row[0]) for row in rows)


def stored(state: CrawlState) -> list[str]:
    """What the store holds: Redis keys without the prefix, or SQLite's crawl tables that have rows."""
    if isinstance(state, RedisCrawlState):
        admin = redis_admin()
        try:
            return sorted(key.removeprefix(state.prefix) for key in admin.scan_iter(match=f"{state.prefix}*"))
        finally:
            admin.close()
    assert isinstance(state, SQLiteCrawlState)
    return sorted(row.split(":")[0] for row in crawl_rows(Path(state.path)))


def finished_crawl(crawl_backend: CrawlBackend, state: CrawlState) -> None:
    """c1: seeds s1, s2 (seqs 0, 1), children a, b of s1 (2, 3), child c of a (4); all finished, in that order."""
    state.start("c1", crawl_backend.caps(), ["s1", "s2"], T0)
    assert state.claim_children("c1", 0, 1, ["a", "b"]).seqs == [2, 3]
    state.finish("c1", 0, 0, T0 + 1)
    assert state.claim_children("c1", 1, 1, ["a"]).new == []
    state.finish("c1", 1, 0, T0 + 2)
    assert state.claim_children("c1", 2, 2, ["c", "s1"]).seqs == [4]
    state.finish("c1", 2, 1, T0 + 3)
    state.claim_children("c1", 3, 2, ["c"])
    state.finish("c1", 3, 1, T0 + 4)
    state.claim_children("c1", 4, 3, ["a"])
    assert state.finish("c1", 4, 2, T0 + 5) == FinishResult(True, True)


# -- seqs out of range ------------------------------------------------------------------------------------------


def test_a_negative_seq_is_refused_before_anything(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    crawl_state.start("c1", crawl_backend.caps(), ["s1"], T0)
    before = crawl_state.summary("c1")
    for call in (
        lambda: crawl_state.claim_children("c1", -1, 1, ["a"]),
        lambda: crawl_state.finish("c1", -1, 0, T0),
        lambda: crawl_state.is_done("c1", -1),
    ):
        with pytest.raises(ValueError, match="seq"):
            call()
    assert crawl_state.summary("c1") == before


def test_a_seq_no_video_has_is_a_key_error_naming_crawl_and_seq(
    crawl_backend: CrawlBackend, crawl_state: CrawlState
) -> None:
    # given a crawl of two seeds: seqs 0 and 1
    crawl_state.start("c1", crawl_backend.caps(), ["s1", "s2"], T0)
    before = crawl_state.summary("c1")
    # then seq 2 is no video's, for every method, and nothing changes
    for call in (
        lambda: crawl_state.claim_children("c1", 2, 1, ["a"]),
        lambda: crawl_state.finish("c1", 2, 0, T0),
        lambda: crawl_state.is_done("c1", 2),
    ):
        with pytest.raises(KeyError, match=r"'c1'.*seq 2"):
            call()
    assert crawl_state.summary("c1") == before
    # and once a claim gives seq 2, it is a video like any other
    assert crawl_state.claim_children("c1", 1, 1, ["a"]) == ClaimResult(["a"], [2], False)
    assert (crawl_state.is_done("c1", 2), crawl_state.finish("c1", 2, 1, T0).first) == (False, True)
    with pytest.raises(KeyError, match="seq 3"):
        crawl_state.is_done("c1", 3)


# -- the done bitmap --------------------------------------------------------------------------------------------


def test_finish_sets_each_seq_done_exactly_once(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl of a seed and 199 children (seqs 1 to 199), so its bitmap spans bytes and SQLite rows alike
    crawl_state.start("c1", crawl_backend.caps(), ["seed"], T0)
    crawl_state.claim_children("c1", 0, 1, [f"v{i:03d}" for i in range(199)])
    # when every third seq is finished, out of order and each twice
    picked = sorted({*range(0, 200, 3)}, key=lambda seq: (seq * 7919) % 200)
    firsts = [crawl_state.finish("c1", seq, 0 if seq == 0 else 1, T0).first for seq in picked + picked]
    # then each counted once, and is_done says exactly which
    assert firsts == [True] * len(picked) + [False] * len(picked)
    assert [seq for seq in range(200) if crawl_state.is_done("c1", seq)] == list(range(0, 200, 3))
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.done, summary.finished_ms) == (len(picked), None)
    if isinstance(crawl_state, RedisCrawlState):  # a bitmap, a bit a video: 200 bits in 25 bytes
        admin = redis_admin()
        try:
            done = crawl_state.keys("c1").done
            assert (admin.type(done), admin.strlen(done), admin.bitcount(done)) == ("string", 25, len(picked))
        finally:
            admin.close()


def test_a_bitmap_spanning_sqlite_rows_keeps_seqs_apart(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl of 3,000 videos (SQLite keeps 1,024 seqs a row)
    crawl_state.start("c1", crawl_backend.caps(max_videos=5000), ["seed"], T0)
    crawl_state.claim_children("c1", 0, 1, [f"v{i:04d}" for i in range(2999)])
    # when the seqs around each row's edges are finished
    edges = [1023, 1024, 2047, 2048, 2999]
    for seq in edges:
        crawl_state.finish("c1", seq, 1, T0)
    # then those are done, and their neighbours are not
    assert [seq for seq in range(1000, 3000) if crawl_state.is_done("c1", seq)] == edges


# -- claims, until the parent's finish --------------------------------------------------------------------------


def test_a_parents_finish_drops_its_claim(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given two parents that claimed, one of them nothing
    crawl_state.start("c1", crawl_backend.caps(), ["s1", "s2"], T0)
    crawl_state.claim_children("c1", 0, 1, ["a", "b"])
    crawl_state.claim_children("c1", 1, 1, ["a"])
    assert recorded_claims(crawl_state, "c1") == [0, 1]
    # when the first finishes, then the second
    crawl_state.finish("c1", 0, 0, T0 + 1)
    # then each one's recorded claim is gone with its finish (a Redis field, an SQLite row)
    assert recorded_claims(crawl_state, "c1") == [1]
    crawl_state.finish("c1", 1, 0, T0 + 2)
    assert recorded_claims(crawl_state, "c1") == []


def test_a_finished_parent_claims_nothing_again(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a parent that claimed a and finished, in a crawl still running
    crawl_state.start("c1", crawl_backend.caps(), ["s1", "s2"], T0)
    crawl_state.claim_children("c1", 0, 1, ["a"])
    crawl_state.finish("c1", 0, 0, T0 + 1)
    before = crawl_state.summary("c1")
    # when a duplicate delivery of it skips the is_done check and claims again, with a new candidate
    again = crawl_state.claim_children("c1", 0, 1, ["a", "new"])
    # then it gets an empty replay (its first run queued a), and nothing was claimed or recorded
    assert again == ClaimResult([], [], replay=True)
    assert crawl_state.summary("c1") == before
    assert recorded_claims(crawl_state, "c1") == []
    assert crawl_state.claim_children("c1", 1, 1, ["new"]) == ClaimResult(["new"], [3], False)


def test_a_claim_replayed_before_the_finish_keeps_its_seqs(
    crawl_backend: CrawlBackend, crawl_state: CrawlState
) -> None:
    # given a parent that claimed two children, then other parents that claimed after it
    crawl_state.start("c1", crawl_backend.caps(), ["s1", "s2"], T0)
    first = crawl_state.claim_children("c1", 0, 1, ["a", "b"])
    crawl_state.claim_children("c1", 1, 1, ["c", "d"])
    # when its job is re-run after a preemption, before it finished: the same children, the same seqs
    assert crawl_state.claim_children("c1", 0, 1, ["b", "z"]) == ClaimResult(["a", "b"], [2, 3], True)
    assert first.seqs == [2, 3]
    # and its finish then works on the seq it carried
    assert crawl_state.finish("c1", 0, 0, T0 + 1) == FinishResult(True, False)


# -- the end ----------------------------------------------------------------------------------------------------


def test_a_finished_crawl_keeps_only_its_summary_and_seen_set(
    crawl_backend: CrawlBackend, crawl_state: CrawlState
) -> None:
    # when a crawl runs to its end
    finished_crawl(crawl_backend, crawl_state)
    # then its done bitmap and claims are gone: what is left is its summary and its seen set (or filter)
    if isinstance(crawl_state, RedisCrawlState):
        assert stored(crawl_state) == ["crawl:{c1}:meta", "crawl:{c1}:seen", "crawls"]
    else:
        assert stored(crawl_state) == ["crawl_depths", "crawl_seen", "crawls"]
    assert recorded_claims(crawl_state, "c1") == []
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.claimed, summary.done, summary.finished_ms) == (5, 5, T0 + 5)


def test_late_duplicates_after_the_end_change_nothing(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a finished crawl of 5 videos
    finished_crawl(crawl_backend, crawl_state)
    summary, kept = crawl_state.summary("c1"), stored(crawl_state)
    # when duplicate deliveries of its jobs arrive late: is_done, a claim (skipping is_done), a finish
    done = [crawl_state.is_done("c1", seq) for seq in range(5)]
    claims = [crawl_state.claim_children("c1", seq, 1, ["a", "new"]) for seq in range(5)]
    finishes = [crawl_state.finish("c1", seq, 1, T0 + 9) for seq in range(5)]
    # then every video is done, nothing is claimed, nothing is finished twice, and nothing changed
    assert done == [True] * 5
    assert claims == [ClaimResult([], [], replay=True)] * 5
    assert finishes == [FinishResult(False, False)] * 5
    assert (crawl_state.summary("c1"), stored(crawl_state)) == (summary, kept)
    # and a seq it never gave is still no video's; a start again replays the first
    with pytest.raises(KeyError, match="seq 5"):
        crawl_state.is_done("c1", 5)
    with pytest.raises(KeyError, match="seq 5"):
        crawl_state.finish("c1", 5, 1, T0)
    assert crawl_state.start("c1", crawl_backend.caps(), ["s1", "x"], T0 + 9) == ClaimResult(["s1", "s2"], [0, 1], True)


def test_a_duplicate_delivery_replays_before_the_end_and_finds_all_done_after(crawl_backend: CrawlBackend) -> None:
    # given a crawl whose last unfinished video is c, and a parent whose job is delivered twice at once
    state, other = crawl_backend.open(), crawl_backend.open()
    state.start("c1", crawl_backend.caps(), ["s1"], T0)
    state.claim_children("c1", 0, 1, ["c"])
    state.finish("c1", 0, 0, T0 + 1)
    # when one delivery of c claims and finishes the crawl, and the other claims after it
    assert state.claim_children("c1", 1, 2, ["d"]).new == ["d"]
    assert other.claim_children("c1", 1, 2, ["d", "e"]) == ClaimResult(["d"], [2], True)  # before the finish
    state.finish("c1", 1, 1, T0 + 2)
    state.claim_children("c1", 2, 3, [])
    assert state.finish("c1", 2, 2, T0 + 3) == FinishResult(True, True)
    # then the late one finds everything done: no new claim, no second finish
    assert other.claim_children("c1", 1, 2, ["d", "e"]) == ClaimResult([], [], True)
    assert (other.is_done("c1", 1), other.finish("c1", 1, 1, T0 + 4)) == (True, FinishResult(False, False))
