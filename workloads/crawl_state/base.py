"""The CrawlState port: the shared state of breadth-first related-video crawls (the related-crawl pack).

One crawl is named by a string (`[a-z0-9][a-z0-9_.-]{0,63}`). Its state is:

* its caps (max_depth, max_videos) and dedupe mode, fixed when it starts;
* the *seen* set: every video the crawl ever claimed. Claiming is test-and-set, atomic across workers: a video
  is claimed by at most one parent, so no video is crawled twice. Mode "set" keeps the exact ids (a Redis set or
  an SQLite table); mode "bloom" keeps a Bloom filter sized for max_videos at `bloom_error` (Redis only; a false
  positive skips a video that was not seen, it never crawls one twice);
* a claim counter: each claimed video (seeds included) gets its value as its *seq*, 0, 1, 2, ... in claim order,
  so the seqs of a crawl are unique and dense (0 .. claimed - 1). A video is named by its seq from then on:
  everything below is per seq, not per id, which is what keeps it small;
* the *done* bitmap: bit seq is set when that video is finished (1 bit a claimed video, not its id again);
* per parent seq, the children it claimed and their seqs, from its claim until its own finish only (so a re-run
  of its job after a preemption gets the same children back and can re-submit them, instead of losing them);
* counters per depth: claimed and done; how many candidates were cut by the depth cap and by the videos cap;
* started_ms / finished_ms.

A finished crawl keeps only its summary (caps, counters, times, seeds) and its seen set or filter (what it
crawled). The done bitmap and any claims left go with the finish that ends it: every seq below claimed is then
done, so is_done, finish and claim_children answer the same without them, and a later start of the same name
replays the first one (its seeds come back done, so their jobs do nothing). Per video, a running crawl so costs
its seen set or filter and 1 bit, plus the claims of the parents between their claim and their finish (one
fetch job each); a finished one, its seen set or filter alone (bench/dedupe.py measures both at 10 million).

Contract (tests/workloads/contracts/test_crawl_state.py runs it against every backend):

* `start(crawl, caps, seeds, now_ms)` records the caps and claims the seeds at depth 0 (up to max_videos), with
  seqs 0 .. len - 1 in seed order, and returns them as a ClaimResult (replay False). Idempotent: a second start of
  the same crawl returns the seeds claimed the first time, with the same seqs, as a replay, and changes nothing
  (even with other caps: the first caps stay).
* `claim_children(crawl, parent_seq, child_depth, candidates)`:
  - first call for (crawl, parent_seq): if child_depth > max_depth, claims nothing and adds the number of
    distinct candidates to `cut_by_depth`; otherwise claims, in order, each candidate not seen before while the
    total claimed is below max_videos, giving each the next seq; candidates not claimed because the cap is
    reached are added to `cut_by_cap` (candidates already seen are not counted anywhere). It records the claimed
    list and seqs for the parent and adds len(claimed) to claimed[child_depth].
  - any later call for the same (crawl, parent_seq) before the parent's finish returns the recorded list and
    seqs and changes nothing; after the parent's finish (or the crawl's) it claims nothing and returns an empty
    replay: its children were queued by the run that finished it.
  - the result says which were claimed (`new`, in candidate order), their `seqs`, and whether this was a
    `replay`.
* `finish(crawl, seq, depth, now_ms)` sets done bit seq once (a second finish changes nothing and returns False
  for `first`), adds 1 to done[depth], and drops the claims recorded for parent seq. When after this call every
  claimed video is done (sum of claimed == sum of done), the crawl is finished: finished_ms is set, the done
  bitmap and any claims left are dropped, and `crawl_finished` is True for the one call that finished it.
  Finishing a seq of a finished crawl returns first False.
* `is_done(crawl, seq)`: whether finish was called for it (True for every seq of a finished crawl).
* seqs: a negative one raises ValueError before any I/O; one not below the crawl's claimed count (no video has
  it) raises KeyError naming the crawl and the seq, in claim_children, finish and is_done alike.
* `summary(crawl)` is None for an unknown crawl; `crawls()` lists every started crawl, sorted;
  `delete(crawl)` removes every trace of it (a Redis key scan of its prefix after delete finds nothing).
* Unknown crawls: claim_children and finish raise KeyError naming the crawl; is_done is False.
* Bad arguments raise ValueError before anything changes: a crawl name not matching CRAWL_NAME (in every
  method), caps out of range, a start without seeds (workloads.crawl_state lists them all).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

CRAWL_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
Dedupe = Literal["set", "bloom"]


@dataclass(frozen=True, slots=True)
class CrawlCaps:
    max_depth: int  # seeds are depth 0; no video deeper than max_depth is claimed
    max_videos: int  # most videos claimed in all (seeds included)
    dedupe: Dedupe = "set"
    bloom_error: float = 0.001  # false-positive rate the Bloom filter is sized for at max_videos


@dataclass(frozen=True, slots=True)
class ClaimResult:
    new: list[str]  # claimed by this parent (or start: the seeds), in candidate order
    seqs: list[int]  # their seqs, in the same order (consecutive: one claim takes them at once)
    replay: bool  # True: this claim happened before; `new` and `seqs` are what it claimed then

    def __post_init__(self) -> None:
        if len(self.new) != len(self.seqs):
            raise ValueError(f"{len(self.new)} videos but {len(self.seqs)} seqs")

    @property
    def claimed(self) -> list[tuple[str, int]]:
        """(video, seq) of each claimed video, in order: what a job for it needs."""
        return list(zip(self.new, self.seqs, strict=True))


@dataclass(frozen=True, slots=True)
class FinishResult:
    first: bool  # False when the video was already finished (or the crawl was)
    crawl_finished: bool  # True for the one call after which every claimed video is done


@dataclass(frozen=True, slots=True)
class DepthCounts:
    depth: int
    claimed: int
    done: int


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    crawl: str
    caps: CrawlCaps
    started_ms: int
    finished_ms: int | None
    depths: list[DepthCounts] = field(default_factory=list)  # depth 0 .. deepest claimed, in order
    cut_by_depth: int = 0
    cut_by_cap: int = 0

    @property
    def claimed(self) -> int:
        return sum(d.claimed for d in self.depths)

    @property
    def done(self) -> int:
        return sum(d.done for d in self.depths)

    @property
    def stop_reason(self) -> str | None:
        """Why the crawl stopped (None while running): the videos cap, the depth cap, or an exhausted frontier."""
        if self.finished_ms is None:
            return None
        if self.cut_by_cap:
            return "max_videos"
        if self.cut_by_depth:
            return "max_depth"
        return "frontier exhausted"


class CrawlState(Protocol):
    def start(self, crawl: str, caps: CrawlCaps, seeds: Sequence[str], now_ms: int) -> ClaimResult: ...

    def claim_children(
        self, crawl: str, parent_seq: int, child_depth: int, candidates: Sequence[str]
    ) -> ClaimResult: ...

    def finish(self, crawl: str, seq: int, depth: int, now_ms: int) -> FinishResult: ...

    def is_done(self, crawl: str, seq: int) -> bool: ...

    def summary(self, crawl: str) -> CrawlSummary | None: ...

    def crawls(self) -> list[str]: ...

    def delete(self, crawl: str) -> None: ...

    def close(self) -> None: ...
