"""The CrawlState contract (workloads/crawl_state/base.py), run against every backend: SQLite, and Redis with
each dedupe mode. What one backend alone does, and `open_crawl_state`, are in test_crawl_state_backends.py."""

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
    # then its seeds are claimed at depth 0, and it runs
    assert claimed == ["s1", "s2", "s3"]
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.crawl, summary.caps, summary.started_ms, summary.finished_ms) == ("c1", caps, T0, None)
    assert (summary.depths, summary.cut_by_depth, summary.cut_by_cap) == ([DepthCounts(0, 3, 0)], 0, 0)
    assert (summary.claimed, summary.done, summary.stop_reason) == (3, 0, None)
    assert crawl_state.crawls() == ["c1"]
    # and a seed is seen: no parent claims it again
    assert crawl_state.claim_children("c1", "s1", 1, ["s2", "x"]).new == ["x"]


def test_start_is_idempotent_and_keeps_the_first_caps(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a started crawl with a claim
    caps = crawl_backend.caps(max_depth=2, max_videos=100)
    crawl_state.start("c1", caps, ["s1", "s2"], T0)
    crawl_state.claim_children("c1", "s1", 1, ["a"])
    before = crawl_state.summary("c1")
    # when it is started again, with other caps and seeds
    again = crawl_state.start("c1", replace(caps, max_depth=9, max_videos=5), ["s3"], T0 + 1)
    # then the first seeds come back and nothing changed
    assert again == ["s1", "s2"]
    assert crawl_state.summary("c1") == before
    assert crawl_state.claim_children("c1", "s2", 1, ["s3"]).new == ["s3"]  # s3 was not claimed as a seed


def test_start_claims_repeated_seeds_once_and_cuts_beyond_max_videos(
    crawl_backend: CrawlBackend, crawl_state: CrawlState
) -> None:
    # when a crawl of at most 3 videos starts with 5 distinct seeds, one repeated
    claimed = crawl_state.start("c1", crawl_backend.caps(max_videos=3), ["s1", "s2", "s1", "s3", "s4", "s5"], T0)
    # then the first 3 are claimed and the 2 others cut by the videos cap
    assert claimed == ["s1", "s2", "s3"]
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.claimed, summary.cut_by_cap) == (3, 2)


@pytest.mark.parametrize("name", ["", "Upper", "-lead", ".lead", "a b", "a/b", "a{b}", "a:b", "x" * 65, "é"])
def test_every_method_rejects_a_bad_crawl_name(crawl_backend: CrawlBackend, crawl_state: CrawlState, name: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: crawl_state.start(name, crawl_backend.caps(), ["s"], T0),
        lambda: crawl_state.claim_children(name, "p", 1, ["a"]),
        lambda: crawl_state.finish(name, "a", 1, T0),
        lambda: crawl_state.is_done(name, "a"),
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
    assert crawl_state.claim_children("c1", "s1", 1, ["b", "a", "b"]) == ClaimResult(new=["b", "a"], replay=False)
    # when another parent's candidates include seen videos (a seed, a child of the first), repeats and new ones
    result = crawl_state.claim_children("c1", "s2", 1, ["z", "s1", "a", "c", "z", "y"])
    # then only the unseen ones are claimed, in candidate order, each once
    assert result == ClaimResult(new=["z", "c", "y"], replay=False)
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert summary.depths == [DepthCounts(0, 2, 0), DepthCounts(1, 5, 0)]
    assert (summary.cut_by_depth, summary.cut_by_cap) == (0, 0)  # seen candidates count nowhere


def test_a_replayed_claim_returns_the_same_children_and_changes_nothing(
    crawl_backend: CrawlBackend, crawl_state: CrawlState
) -> None:
    # given a parent that claimed its children, and one that claimed none (all seen)
    crawl_state.start("c1", crawl_backend.caps(), ["s1", "s2"], T0)
    first = crawl_state.claim_children("c1", "s1", 1, ["a", "b"])
    empty = crawl_state.claim_children("c1", "s2", 1, ["a"])
    before = crawl_state.summary("c1")
    # when both claims are replayed, as a re-run job would after a preemption (with other candidates even)
    again = crawl_state.claim_children("c1", "s1", 1, ["a", "b"])
    other = crawl_state.claim_children("c1", "s1", 1, ["q", "r"])
    empty_again = crawl_state.claim_children("c1", "s2", 1, ["a", "new"])
    # then each gets what it claimed the first time, marked as a replay, and nothing changed
    assert (first, empty) == (ClaimResult(["a", "b"], False), ClaimResult([], False))
    assert again == other == ClaimResult(["a", "b"], True)
    assert empty_again == ClaimResult([], True)
    assert crawl_state.summary("c1") == before
    assert crawl_state.claim_children("c1", "a", 2, ["q", "new"]).new == ["q", "new"]  # never claimed by replays


def test_the_depth_cap_claims_nothing_and_counts_distinct_candidates(
    crawl_backend: CrawlBackend, crawl_state: CrawlState
) -> None:
    # given a crawl of depth at most 1
    crawl_state.start("c1", crawl_backend.caps(max_depth=1), ["s1"], T0)
    crawl_state.claim_children("c1", "s1", 1, ["a", "b"])
    # when a depth-1 video's children (depth 2) are offered, with a repeat and a seen one, twice
    cut = crawl_state.claim_children("c1", "a", 2, ["x", "y", "x", "b"])
    again = crawl_state.claim_children("c1", "a", 2, ["x", "y"])
    # then none is claimed, the 3 distinct candidates count once as cut by depth, and they stay unseen
    assert (cut, again) == (ClaimResult([], False), ClaimResult([], True))
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.claimed, summary.cut_by_depth, summary.cut_by_cap) == (3, 3, 0)
    assert crawl_state.claim_children("c1", "b", 1, ["x"]).new == ["x"]  # a depth the cap allows


def test_the_videos_cap_claims_max_videos_in_all(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl of at most 5 videos, 2 of them seeds
    crawl_state.start("c1", crawl_backend.caps(max_videos=5), ["s1", "s2"], T0)
    # when parents offer more than fit, seen ones among them
    first = crawl_state.claim_children("c1", "s1", 1, ["a", "b"])
    second = crawl_state.claim_children("c1", "s2", 1, ["s1", "c", "d", "a", "e"])
    third = crawl_state.claim_children("c1", "a", 2, ["f", "b", "c"])
    # then exactly 5 are claimed; unseen candidates the cap cut are counted, seen ones are not
    assert (first.new, second.new, third.new) == (["a", "b"], ["c"], [])
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.claimed, summary.cut_by_cap, summary.cut_by_depth) == (5, 3, 0)  # d, e, f
    assert summary.depths == [DepthCounts(0, 2, 0), DepthCounts(1, 3, 0)]
    assert crawl_state.claim_children("c1", "s2", 1, ["zz"]) == ClaimResult(["c"], True)


def test_depths_are_listed_to_the_deepest_with_zeros_between(
    crawl_backend: CrawlBackend, crawl_state: CrawlState
) -> None:
    crawl_state.start("c1", crawl_backend.caps(max_depth=5), ["s1"], T0)
    crawl_state.claim_children("c1", "s1", 3, ["a", "b"])
    crawl_state.claim_children("c1", "a", 4, ["s1"])  # claims nothing: depth 4 stays out
    crawl_state.finish("c1", "a", 3, T0 + 1)
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert summary.depths == [DepthCounts(0, 1, 0), DepthCounts(1, 0, 0), DepthCounts(2, 0, 0), DepthCounts(3, 2, 1)]


def test_unknown_crawls_raise_key_error_naming_the_crawl(crawl_state: CrawlState) -> None:
    with pytest.raises(KeyError, match="nope"):
        crawl_state.claim_children("nope", "p", 1, ["a"])
    with pytest.raises(KeyError, match="nope"):
        crawl_state.finish("nope", "a", 0, T0)
    assert (crawl_state.summary("nope"), crawl_state.is_done("nope", "a"), crawl_state.crawls()) == (None, False, [])
    crawl_state.delete("nope")  # nothing to delete: no error


def test_no_video_is_ever_claimed_twice(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl whose parents offer overlapping random candidates from a pool of 3,000
    rng = random.Random(7)
    pool = vids("v", 3000)
    crawl_state.start("c1", crawl_backend.caps(max_depth=50, max_videos=100_000), ["v0000"], T0)
    claimed, offered = ["v0000"], {"v0000"}
    # when 400 parents claim, each from 8 to 30 candidates
    for parent in range(400):
        candidates = rng.sample(pool, rng.randint(8, 30))
        offered.update(candidates)
        claimed += crawl_state.claim_children("c1", f"p{parent}", 1 + parent % 50, candidates).new
    # then no video was claimed twice, and the counters agree
    assert len(claimed) == len(set(claimed))
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert summary.claimed == len(claimed)
    if crawl_backend.dedupe == "set":  # exact: every video offered was claimed, once
        assert set(claimed) == offered


def _claim_batches(url: str, crawl: str, worker: int, batches: list[list[str]], start_at: float) -> list[str]:
    """One worker of the concurrency test (in a thread or a child process): its claims, all at once."""
    state = open_crawl_state(url)
    time.sleep(max(start_at - time.time(), 0))  # every worker starts together
    claimed = []
    try:
        for number, batch in enumerate(batches):
            claimed += state.claim_children(crawl, f"w{worker}-p{number}", 1, batch).new
    finally:
        state.close()
    return claimed


@pytest.mark.parametrize("workers", ["threads", "processes"])
def test_max_videos_holds_with_workers_claiming_at_once(crawl_backend: CrawlBackend, workers: str) -> None:
    # given a crawl of at most 400 videos, and 3 workers whose parents offer overlapping candidates
    state = crawl_backend.open()
    state.start("c1", crawl_backend.caps(max_videos=400), ["seed"], T0)
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
        futures = [executor.submit(_claim_batches, crawl_backend.url, "c1", w, jobs[w], start_at) for w in range(3)]
        claimed = [video for future in futures for video in future.result()]
    # then exactly max_videos were claimed in all (the seed is one), none twice, and the rest were cut
    assert len(claimed) == 399
    assert len(set(claimed)) == 399
    summary = state.summary("c1")
    assert summary is not None
    assert (summary.claimed, summary.depths[1].claimed) == (400, 399)
    assert summary.cut_by_cap > 0


# -- finish -----------------------------------------------------------------------------------------------------


def test_finish_marks_a_video_done_once(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl with a seed and two children
    crawl_state.start("c1", crawl_backend.caps(), ["s1"], T0)
    crawl_state.claim_children("c1", "s1", 1, ["a", "b"])
    # when the seed is finished twice
    first = crawl_state.finish("c1", "s1", 0, T0 + 1)
    second = crawl_state.finish("c1", "s1", 0, T0 + 2)
    # then only the first counts
    assert (first, second) == (FinishResult(True, False), FinishResult(False, False))
    assert (crawl_state.is_done("c1", "s1"), crawl_state.is_done("c1", "a")) == (True, False)
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert summary.depths == [DepthCounts(0, 1, 1), DepthCounts(1, 2, 0)]
    assert (summary.done, summary.finished_ms) == (1, None)


def test_the_last_finish_finishes_the_crawl_exactly_once(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl of a seed and two children, where every parent has claimed
    crawl_state.start("c1", crawl_backend.caps(), ["s1"], T0)
    crawl_state.claim_children("c1", "s1", 1, ["a", "b"])
    crawl_state.claim_children("c1", "a", 2, ["s1"])
    crawl_state.claim_children("c1", "b", 2, ["a"])
    # when every video is finished, the last one twice
    results = [crawl_state.finish("c1", video, depth, T0 + i) for i, (video, depth) in enumerate(
        [("s1", 0), ("a", 1), ("b", 1), ("b", 1)], start=1)]  # fmt: skip
    # then only the call that finished the last video finished the crawl, at its time
    assert [r.crawl_finished for r in results] == [False, False, True, False]
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.finished_ms, summary.claimed, summary.done) == (T0 + 3, 3, 3)
    assert summary.stop_reason == "frontier exhausted"
    assert crawl_state.finish("c1", "s1", 0, T0 + 9) == FinishResult(False, False)
    assert crawl_state.summary("c1") == summary


def _run_to_the_end(state: CrawlState, caps: CrawlCaps) -> str | None:
    """Crawl a little graph (each video's children: two new ones and its parent) and give the stop reason."""
    state.start("c1", caps, ["r"], T0)
    frontier = [("r", 0)]
    while frontier:
        video, depth = frontier.pop(0)
        children = state.claim_children("c1", video, depth + 1, [video + "0", video + "1", video[:-1] or "r"]).new
        frontier += [(child, depth + 1) for child in children]
        state.finish("c1", video, depth, T0 + 1)
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
    assert state.claim_children("c1", "r", 1, ["r"]).new == []
    assert state.finish("c1", "r", 0, T0 + 1) == FinishResult(True, True)
    summary = state.summary("c1")
    assert summary is not None
    assert summary.stop_reason == "frontier exhausted"


def test_finishing_at_once_finishes_the_crawl_once(crawl_backend: CrawlBackend) -> None:
    # given a crawl of 200 claimed videos
    state = crawl_backend.open()
    state.start("c1", crawl_backend.caps(), ["seed"], T0)
    children = state.claim_children("c1", "seed", 1, vids("v", 199)).new
    videos = [("seed", 0)] + [(child, 1) for child in children]

    # when 4 threads, each with its own store object, finish them all (each video twice)
    def finish_all(part: list[tuple[str, int]]) -> list[FinishResult]:
        mine = crawl_backend.open()
        return [mine.finish("c1", video, depth, T0 + 1) for video, depth in part]

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
        crawl_state.claim_children(crawl, "s1", 1, ["a", "b"])
        crawl_state.finish(crawl, "s1", 0, T0 + 1)
    kept = crawl_state.summary("kept")
    # when one is deleted (twice: the second does nothing)
    crawl_state.delete("gone")
    crawl_state.delete("gone")
    # then it is unknown, the other untouched, and a new crawl of that name starts from nothing
    assert (crawl_state.crawls(), crawl_state.summary("gone"), crawl_state.is_done("gone", "s1")) == (
        ["kept"],
        None,
        False,
    )
    with pytest.raises(KeyError):
        crawl_state.claim_children("gone", "x", 1, ["a"])
    assert crawl_state.summary("kept") == kept
    crawl_state.start("gone", crawl_backend.caps(), ["a"], T0 + 5)
    assert crawl_state.claim_children("gone", "s1", 1, ["a", "b", "s1"]) == ClaimResult(["b", "s1"], False)


def test_after_delete_nothing_of_the_crawl_is_left(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    # given a crawl with every kind of state: seen, claims (one empty), done, finished
    crawl_state.start("c1", crawl_backend.caps(max_depth=1), ["s1"], T0)
    crawl_state.claim_children("c1", "s1", 1, ["a"])
    crawl_state.claim_children("c1", "a", 2, ["b"])
    for video, depth in (("s1", 0), ("a", 1)):
        crawl_state.finish("c1", video, depth, T0 + 1)
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
    old.claim_children("c1", "s1", 1, ["a"])
    # when another object deletes it and starts it again, bigger, and in the other dedupe mode
    other.delete("c1")
    other.start("c1", CrawlCaps(3, 5000, "set" if crawl_backend.dedupe == "bloom" else "bloom"), ["a"], T0 + 1)
    other.claim_children("c1", "a", 1, ["b"])
    # then the first object dedupes against the new crawl's videos, and both see the same counts
    assert old.claim_children("c1", "b", 2, ["a", "b", "s1", "c"]).new == ["s1", "c"]
    assert old.summary("c1") == other.summary("c1")
