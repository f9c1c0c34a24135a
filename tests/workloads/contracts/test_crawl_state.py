"""The CrawlState contract (workloads/crawl_state/base.py), run against every backend: SQLite, and Redis with
each dedupe mode. A video's life by its seq, from its claim to the crawl's end (the done bitmap, claims dropped
at finish, what a finished crawl keeps), is in test_crawl_state_lifecycle.py; what one backend alone does, and
`open_crawl_state`, in test_crawl_state_backends.py."""

from __future__ import annotations

import multiprocessing
import random
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from tests.workloads.contracts.conftest import CrawlBackend, crawl_rows, redis_admin
from workloads.crawl_state import (
    ClaimResult,
    CrawlCaps,
    CrawlState,
    DepthCounts,
    FinishResult,
    RedisCrawlState,
    SQLiteCrawlState,
    open_crawl_state,
)

T0 = 1_700_000_000_000


def vids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(n)]


# -- start -------------------------------------------------------------------------------------------------------


def test_start_claims_the_seeds_at_depth_0(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # when a crawl starts
    caps = crawl_backend.caps(max_depth=2, max_videos=100)
    claimed = crawl_state.start("c1", caps, ["s1", "s2", "s3"], T0)
    # then its seeds are claimed at depth 0, with seqs 0, 1, 2, and it runs
    assert claimed == ClaimResult(["s1", "s2", "s3"], [0, 1, 2], replay=False)
    assert claimed.claimed == [("s1", 0), ("s2", 1), ("s3", 2)]
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.crawl, summary.caps, summary.started_ms, summary.finished_ms) == ("c1", caps, T0, None)
    assert (summary.depths, summary.cut_by_depth, summary.cut_by_cap) == ([DepthCounts(0, 3, 0)], 0, 0)
    assert (summary.claimed, summary.done, summary.stop_reason) == (3, 0, None)
    assert crawl_state.crawls() == ["c1"]
    # and a seed is seen: no parent claims it again; the next claimed video gets the next seq
    assert crawl_state.claim_children("c1", 0, 1, ["s2", "x"]) == ClaimResult(["x"], [3], replay=False)


def test_start_is_idempotent_and_keeps_the_first_caps(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a started crawl with a claim
    caps = crawl_backend.caps(max_depth=2, max_videos=100)
    crawl_state.start("c1", caps, ["s1", "s2"], T0)
    crawl_state.claim_children("c1", 0, 1, ["a"])
    before = crawl_state.summary("c1")
    # when it is started again, with other caps and seeds
    again = crawl_state.start("c1", replace(caps, max_depth=9, max_videos=5), ["s3"], T0 + 1)
    # then the first seeds come back with their seqs, as a replay, and nothing changed
    assert again == ClaimResult(["s1", "s2"], [0, 1], replay=True)
    assert crawl_state.summary("c1") == before
    assert crawl_state.claim_children("c1", 1, 1, ["s3"]).new == ["s3"]  # s3 was not claimed as a seed


def test_start_claims_repeated_seeds_once_and_cuts_beyond_max_videos(
    crawl_backend: CrawlBackend, crawl_state: CrawlState
) -> None:
    # when a crawl of at most 3 videos starts with 5 distinct seeds, one repeated
    claimed = crawl_state.start("c1", crawl_backend.caps(max_videos=3), ["s1", "s2", "s1", "s3", "s4", "s5"], T0)
    # then the first 3 are claimed and the 2 others cut by the videos cap
    assert claimed == ClaimResult(["s1", "s2", "s3"], [0, 1, 2], replay=False)
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.claimed, summary.cut_by_cap) == (3, 2)


@pytest.mark.parametrize("name", ["", "Upper", "-lead", ".lead", "a b", "a/b", "a{b}", "a:b", "x" * 65, "é"])
def test_every_method_rejects_a_bad_crawl_name(crawl_backend: CrawlBackend, crawl_state: CrawlState, name: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: crawl_state.start(name, crawl_backend.caps(), ["s"], T0),
        lambda: crawl_state.claim_children(name, 0, 1, ["a"]),
        lambda: crawl_state.finish(name, 0, 1, T0),
        lambda: crawl_state.is_done(name, 0),
        lambda: crawl_state.summary(name),
        lambda: crawl_state.delete(name),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="crawl name"):
            call()
    assert crawl_state.crawls() == []


def test_longest_and_shortest_names_are_good(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    names = ["a", "0", "x" * 64, "a.b_c-9"]
    for name in names:
        crawl_state.start(name, crawl_backend.caps(), ["s"], T0)
    assert crawl_state.crawls() == sorted(names)


@pytest.mark.parametrize(
    "change",
    [{"max_depth": -1}, {"max_videos": 0}, {"bloom_error": 0.0}, {"bloom_error": 1.0}, {"dedupe": "exact"}],
)
def test_start_rejects_bad_caps_and_no_seeds(
    crawl_backend: CrawlBackend, crawl_state: CrawlState, change: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        crawl_state.start("c1", replace(crawl_backend.caps(), **change), ["s"], T0)
    with pytest.raises(ValueError, match="seed"):
        crawl_state.start("c1", crawl_backend.caps(), [], T0)
    assert (crawl_state.crawls(), crawl_state.summary("c1")) == ([], None)


# -- claim_children ---------------------------------------------------------------------------------------------


def test_a_claim_takes_the_unseen_candidates_in_order(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl whose first parent claimed a and b
    crawl_state.start("c1", crawl_backend.caps(), ["s1", "s2"], T0)
    assert crawl_state.claim_children("c1", 0, 1, ["b", "a", "b"]) == ClaimResult(["b", "a"], [2, 3], replay=False)
    # when another parent's candidates include seen videos (a seed, a child of the first), repeats and new ones
    result = crawl_state.claim_children("c1", 1, 1, ["z", "s1", "a", "c", "z", "y"])
    # then only the unseen ones are claimed, in candidate order, each once, with the next seqs in that order
    assert result == ClaimResult(["z", "c", "y"], [4, 5, 6], replay=False)
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert summary.depths == [DepthCounts(0, 2, 0), DepthCounts(1, 5, 0)]
    assert (summary.cut_by_depth, summary.cut_by_cap) == (0, 0)  # seen candidates count nowhere


def test_a_replayed_claim_returns_the_same_children_and_changes_nothing(
    crawl_backend: CrawlBackend, crawl_state: CrawlState
) -> None:
    # given a parent that claimed its children, and one that claimed none (all seen), then a third that claimed
    crawl_state.start("c1", crawl_backend.caps(), ["s1", "s2", "s3"], T0)
    first = crawl_state.claim_children("c1", 0, 1, ["a", "b"])
    empty = crawl_state.claim_children("c1", 1, 1, ["a"])
    crawl_state.claim_children("c1", 2, 1, ["c"])
    before = crawl_state.summary("c1")
    # when both claims are replayed, as a re-run job would after a preemption (with other candidates even)
    again = crawl_state.claim_children("c1", 0, 1, ["a", "b"])
    other = crawl_state.claim_children("c1", 0, 1, ["q", "r"])
    empty_again = crawl_state.claim_children("c1", 1, 1, ["a", "new"])
    # then each gets what it claimed the first time, with the same seqs, marked as a replay, and nothing changed
    assert (first, empty) == (ClaimResult(["a", "b"], [3, 4], False), ClaimResult([], [], False))
    assert again == other == ClaimResult(["a", "b"], [3, 4], True)
    assert empty_again == ClaimResult([], [], True)
    assert crawl_state.summary("c1") == before
    assert crawl_state.claim_children("c1", 3, 2, ["q", "new"]) == ClaimResult(["q", "new"], [6, 7], False)


def test_the_depth_cap_claims_nothing_and_counts_distinct_candidates(
    crawl_backend: CrawlBackend, crawl_state: CrawlState
) -> None:
    # given a crawl of depth at most 1
    crawl_state.start("c1", crawl_backend.caps(max_depth=1), ["s1"], T0)
    crawl_state.claim_children("c1", 0, 1, ["a", "b"])
    # when a depth-1 video's children (depth 2) are offered, with a repeat and a seen one, twice
    cut = crawl_state.claim_children("c1", 1, 2, ["x", "y", "x", "b"])
    again = crawl_state.claim_children("c1", 1, 2, ["x", "y"])
    # then none is claimed, the 3 distinct candidates count once as cut by depth, and they stay unseen
    assert (cut, again) == (ClaimResult([], [], False), ClaimResult([], [], True))
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.claimed, summary.cut_by_depth, summary.cut_by_cap) == (3, 3, 0)
    assert crawl_state.claim_children("c1", 2, 1, ["x"]).new == ["x"]  # a depth the cap allows


def test_the_videos_cap_claims_max_videos_in_all(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl of at most 5 videos, 2 of them seeds
    crawl_state.start("c1", crawl_backend.caps(max_videos=5), ["s1", "s2"], T0)
    # when parents offer more than fit, seen ones among them
    first = crawl_state.claim_children("c1", 0, 1, ["a", "b"])
    second = crawl_state.claim_children("c1", 1, 1, ["s1", "c", "d", "a", "e"])
    third = crawl_state.claim_children("c1", 2, 2, ["f", "b", "c"])
    # then exactly 5 are claimed; unseen candidates the cap cut are counted, seen ones are not
    assert (first.new, second.new, third.new) == (["a", "b"], ["c"], [])
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.claimed, summary.cut_by_cap, summary.cut_by_depth) == (5, 3, 0)  # d, e, f
    assert summary.depths == [DepthCounts(0, 2, 0), DepthCounts(1, 3, 0)]
    assert crawl_state.claim_children("c1", 1, 1, ["zz"]) == ClaimResult(["c"], [4], True)


def test_depths_are_listed_to_the_deepest_with_zeros_between(
    crawl_backend: CrawlBackend, crawl_state: CrawlState
) -> None:
    crawl_state.start("c1", crawl_backend.caps(max_depth=5), ["s1"], T0)
    crawl_state.claim_children("c1", 0, 3, ["a", "b"])
    crawl_state.claim_children("c1", 1, 4, ["s1"])  # claims nothing: depth 4 stays out
    crawl_state.finish("c1", 1, 3, T0 + 1)
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert summary.depths == [DepthCounts(0, 1, 0), DepthCounts(1, 0, 0), DepthCounts(2, 0, 0), DepthCounts(3, 2, 1)]


def test_unknown_crawls_raise_key_error_naming_the_crawl(crawl_state: CrawlState) -> None:
    with pytest.raises(KeyError, match="nope"):
        crawl_state.claim_children("nope", 0, 1, ["a"])
    with pytest.raises(KeyError, match="nope"):
        crawl_state.finish("nope", 0, 0, T0)
    assert (crawl_state.summary("nope"), crawl_state.is_done("nope", 0), crawl_state.crawls()) == (None, False, [])
    crawl_state.delete("nope")  # nothing to delete: no error


def test_no_video_is_ever_claimed_twice(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl whose parents offer overlapping random candidates from a pool of 3,000
    rng = random.Random(7)
    pool = vids("v", 3000)
    crawl_state.start("c1", crawl_backend.caps(max_depth=50, max_videos=100_000), ["v0000"], T0)
    claimed, seqs, offered = ["v0000"], [0], {"v0000"}
    # when the first 400 claimed videos claim as parents, each from 8 to 30 candidates
    for parent in range(400):
        candidates = rng.sample(pool, rng.randint(8, 30))
        offered.update(candidates)
        result = crawl_state.claim_children("c1", parent, 1 + parent % 50, candidates)
        claimed, seqs = claimed + result.new, seqs + result.seqs
    # then no video was claimed twice, the seqs ran 0, 1, 2, ... in claim order, and the counters agree
    assert len(claimed) == len(set(claimed))
    assert seqs == list(range(len(claimed)))
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert summary.claimed == len(claimed)
    if crawl_backend.dedupe == "set":  # exact: every video offered was claimed, once
        assert set(claimed) == offered


def _claim_batches(
    url: str, crawl: str, parents: range, batches: list[list[str]], start_at: float
) -> list[tuple[str, int]]:
    """One worker of the concurrency test (in a thread or a child process): its claims, all at once."""
    state = open_crawl_state(url)
    time.sleep(max(start_at - time.time(), 0))  # every worker starts together
    claimed = []
    try:
        for parent, batch in zip(parents, batches, strict=True):
            claimed += state.claim_children(crawl, parent, 1, batch).claimed
    finally:
        state.close()
    return claimed


@pytest.mark.parametrize("workers", ["threads", "processes"])
def test_max_videos_holds_with_workers_claiming_at_once(crawl_backend: CrawlBackend, workers: str) -> None:
    # given a crawl of 360 seeds and at most 760 videos, and 3 workers whose parents (120 seeds each) offer
    # overlapping candidates
    state = crawl_backend.open()
    state.start("c1", crawl_backend.caps(max_videos=760), vids("seed", 360), T0)
    rng = random.Random(11)
    pool = vids("v", 1500)
    jobs = [[rng.sample(pool, 12) for _ in range(120)] for _ in range(3)]
    executor: Executor = (
        ThreadPoolExecutor(3)
        if workers == "threads"
        else ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn"))
    )
    # when they all claim at once
    start_at = time.time() + (0.3 if workers == "threads" else 3.0)  # a spawned child imports for a second or so
    with executor:
        parents = [range(w * 120, (w + 1) * 120) for w in range(3)]
        futures = [
            executor.submit(_claim_batches, crawl_backend.url, "c1", parents[w], jobs[w], start_at) for w in range(3)
        ]
        claimed = [pair for future in futures for pair in future.result()]
    # then exactly max_videos were claimed in all (the seeds too), none twice, and the rest were cut
    assert len(claimed) == 400
    assert len({video for video, _ in claimed}) == 400
    # and the children's seqs are unique and dense: 360 to 759, whatever order the claims interleaved in
    assert sorted(seq for _, seq in claimed) == list(range(360, 760))
    summary = state.summary("c1")
    assert summary is not None
    assert (summary.claimed, summary.depths[1].claimed) == (760, 400)
    assert summary.cut_by_cap > 0


# -- finish -----------------------------------------------------------------------------------------------------


def test_finish_marks_a_video_done_once(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl with a seed and two children
    crawl_state.start("c1", crawl_backend.caps(), ["s1"], T0)
    crawl_state.claim_children("c1", 0, 1, ["a", "b"])
    # when the seed is finished twice
    first = crawl_state.finish("c1", 0, 0, T0 + 1)
    second = crawl_state.finish("c1", 0, 0, T0 + 2)
    # then only the first counts
    assert (first, second) == (FinishResult(True, False), FinishResult(False, False))
    assert [crawl_state.is_done("c1", seq) for seq in range(3)] == [True, False, False]
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert summary.depths == [DepthCounts(0, 1, 1), DepthCounts(1, 2, 0)]
    assert (summary.done, summary.finished_ms) == (1, None)


def test_the_last_finish_finishes_the_crawl_exactly_once(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl of a seed and two children, where every parent has claimed
    crawl_state.start("c1", crawl_backend.caps(), ["s1"], T0)
    crawl_state.claim_children("c1", 0, 1, ["a", "b"])
    crawl_state.claim_children("c1", 1, 2, ["s1"])
    crawl_state.claim_children("c1", 2, 2, ["a"])
    # when every video is finished (s1, a, b: seqs 0, 1, 2), the last one twice
    results = [crawl_state.finish("c1", seq, depth, T0 + i) for i, (seq, depth) in enumerate(
        [(0, 0), (1, 1), (2, 1), (2, 1)], start=1)]  # fmt: skip
    # then only the call that finished the last video finished the crawl, at its time
    assert [r.crawl_finished for r in results] == [False, False, True, False]
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.finished_ms, summary.claimed, summary.done) == (T0 + 3, 3, 3)
    assert summary.stop_reason == "frontier exhausted"
    assert crawl_state.finish("c1", 0, 0, T0 + 9) == FinishResult(False, False)
    assert crawl_state.summary("c1") == summary


def _run_to_the_end(state: CrawlState, caps: CrawlCaps) -> str | None:
    """Crawl a little graph (each video's children: two new ones and its parent) and give the stop reason."""
    frontier = [(video, seq, 0) for video, seq in state.start("c1", caps, ["r"], T0).claimed]
    while frontier:
        video, seq, depth = frontier.pop(0)
        claim = state.claim_children("c1", seq, depth + 1, [video + "0", video + "1", video[:-1] or "r"])
        frontier += [(child, child_seq, depth + 1) for child, child_seq in claim.claimed]
        state.finish("c1", seq, depth, T0 + 1)
    summary = state.summary("c1")
    assert summary is not None
    assert summary.claimed == summary.done
    return summary.stop_reason


def test_stop_reason_names_the_cap_that_stopped_the_crawl(crawl_backend: CrawlBackend) -> None:
    assert _run_to_the_end(crawl_backend.open(), crawl_backend.caps(max_depth=2, max_videos=5)) == "max_videos"
    crawl_backend.open().delete("c1")
    assert _run_to_the_end(crawl_backend.open(), crawl_backend.caps(max_depth=2, max_videos=100)) == "max_depth"
    crawl_backend.open().delete("c1")
    # a frontier that runs out: a seed whose only related video is itself
    state = crawl_backend.open()
    state.start("c1", crawl_backend.caps(), ["r"], T0)
    assert state.claim_children("c1", 0, 1, ["r"]).new == []
    assert state.finish("c1", 0, 0, T0 + 1) == FinishResult(True, True)
    summary = state.summary("c1")
    assert summary is not None
    assert summary.stop_reason == "frontier exhausted"


def test_finishing_at_once_finishes_the_crawl_once(crawl_backend: CrawlBackend) -> None:
    # given a crawl of 200 claimed videos
    state = crawl_backend.open()
    state.start("c1", crawl_backend.caps(), ["seed"], T0)
    children = state.claim_children("c1", 0, 1, vids("v", 199)).seqs
    videos = [(0, 0)] + [(seq, 1) for seq in children]

    # when 4 threads, each with its own store object, finish them all (each video twice)
    def finish_all(part: list[tuple[int, int]]) -> list[FinishResult]:
        mine = crawl_backend.open()
        return [mine.finish("c1", seq, depth, T0 + 1) for seq, depth in part]

    with ThreadPoolExecutor(4) as pool:
        parts = [videos[w::2] for w in range(2)] * 2
        results = [r for part in pool.map(finish_all, parts) for r in part]
    # then each video was first finished once, and exactly one call finished the crawl
    assert sum(r.first for r in results) == 200
    assert sum(r.crawl_finished for r in results) == 1


# -- summary / crawls / delete ----------------------------------------------------------------------------------


def test_crawls_lists_started_crawls_sorted(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    for name in ("zeta", "alpha", "m.1", "m-2"):
        crawl_state.start(name, crawl_backend.caps(), ["s"], T0)
    assert crawl_state.crawls() == ["alpha", "m-2", "m.1", "zeta"]


def test_delete_removes_every_trace_of_one_crawl(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given two crawls with claims, done videos and a finish
    for crawl in ("gone", "kept"):
        crawl_state.start(crawl, crawl_backend.caps(), ["s1"], T0)
        crawl_state.claim_children(crawl, 0, 1, ["a", "b"])
        crawl_state.finish(crawl, 0, 0, T0 + 1)
    kept = crawl_state.summary("kept")
    # when one is deleted (twice: the second does nothing)
    crawl_state.delete("gone")
    crawl_state.delete("gone")
    # then it is unknown, the other untouched, and a new crawl of that name starts from nothing
    assert (crawl_state.crawls(), crawl_state.summary("gone"), crawl_state.is_done("gone", 0)) == (
        ["kept"],
        None,
        False,
    )
    with pytest.raises(KeyError):
        crawl_state.claim_children("gone", 0, 1, ["a"])
    assert crawl_state.summary("kept") == kept
    crawl_state.start("gone", crawl_backend.caps(), ["a"], T0 + 5)
    assert not crawl_state.is_done("gone", 0)
    assert crawl_state.claim_children("gone", 0, 1, ["a", "b", "s1"]) == ClaimResult(["b", "s1"], [1, 2], False)


def test_after_delete_nothing_of_the_crawl_is_left(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl with every kind of state: seen, claims (one empty), done, and a crawl still running
    crawl_state.start("c1", crawl_backend.caps(max_depth=1), ["s1", "s2"], T0)
    crawl_state.claim_children("c1", 0, 1, ["a"])
    crawl_state.claim_children("c1", 1, 1, ["b"])
    crawl_state.claim_children("c1", 2, 2, ["c"])
    crawl_state.finish("c1", 0, 0, T0 + 1)
    # when it is deleted
    crawl_state.delete("c1")
    # then no Redis key of the prefix remains, nor a row in SQLite
    if isinstance(crawl_state, RedisCrawlState):
        admin = redis_admin()
        try:
            assert list(admin.scan_iter(match=f"{crawl_state.prefix}*")) == []
        finally:
            admin.close()
    else:
        assert isinstance(crawl_state, SQLiteCrawlState)
        assert crawl_rows(Path(crawl_state.path)) == []


def test_a_crawl_restarted_with_other_caps_is_claimed_right_by_every_object(crawl_backend: CrawlBackend) -> None:
    # given an object that has claimed in a crawl (a Redis object remembers its filter shape)
    old, other = crawl_backend.open(), crawl_backend.open()
    old.start("c1", crawl_backend.caps(max_videos=50), ["s1"], T0)
    old.claim_children("c1", 0, 1, ["a"])
    # when another object deletes it and starts it again, bigger, and in the other dedupe mode
    other.delete("c1")
    other.start("c1", CrawlCaps(3, 5000, "set" if crawl_backend.dedupe == "bloom" else "bloom"), ["a"], T0 + 1)
    other.claim_children("c1", 0, 1, ["b"])
    # then the first object dedupes against the new crawl's videos, and both see the same counts
    assert old.claim_children("c1", 1, 2, ["a", "b", "s1", "c"]) == ClaimResult(["s1", "c"], [2, 3], False)
    assert old.summary("c1") == other.summary("c1")
