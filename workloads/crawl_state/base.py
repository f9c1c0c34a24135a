"""The CrawlState port: the shared state of breadth-first related-video crawls (the related-crawl pack).

One crawl is named by a string (`[a-z0-9][a-z0-9_.-]{0,63}`). Its state is:

* its caps (max_depth, max_videos) and dedupe mode, fixed when it starts;
* the *seen* set: every video the crawl ever claimed. Claiming is test-and-set, atomic across workers: a video
  is claimed by at most one parent, so no video is crawled twice. Mode "set" keeps the exact ids (a Redis set or
  an SQLite table); mode "bloom" keeps a Bloom filter sized for max_videos at `bloom_error` (Redis only; a false
  positive skips a video that was not seen, it never crawls one twice);
* per parent, the children it claimed (so a re-run of a parent's job after a preemption gets the same children
  back and can re-submit them, instead of losing them);
* counters per depth: claimed and done; how many candidates were cut by the depth cap and by the videos cap;
* the set of finished videos, so finishing twice counts once;
* started_ms / finished_ms.

Contract (tests/workloads/contracts/test_crawl_state.py runs it against every backend):

* `start(crawl, caps, seeds, now_ms)` records the caps and claims the seeds at depth 0 (up to max_videos) and
  returns the claimed seeds. Idempotent: a second start of the same crawl returns the seeds claimed the first
  time and changes nothing (even with other caps: the first caps stay).
* `claim_children(crawl, parent, child_depth, candidates)`:
  - first call for (crawl, parent): if child_depth > max_depth, claims nothing and adds the number of distinct
    candidates to `cut_by_depth`; otherwise claims, in order, each candidate not seen before while the total
    claimed is below max_videos; candidates not claimed because the cap is reached are added to `cut_by_cap`
    (candidates already seen are not counted anywhere). It records the claimed list for the parent and adds
    len(claimed) to claimed[child_depth].
  - any later call for the same (crawl, parent) returns the recorded list and changes nothing.
  - the result says which were claimed (`new`, in candidate order) and whether this was a `replay`.
* `finish(crawl, video, depth, now_ms)` marks the video done once (a second finish changes nothing and returns
  False for `first`); adds 1 to done[depth]. When after this call every claimed video is done (sum of claimed
  == sum of done), the crawl is finished: finished_ms is set (once) and `crawl_finished` is True for the one
  call that finished it.
* `is_done(crawl, video)`: whether finish was called for it.
* `summary(crawl)` is None for an unknown crawl; `crawls()` lists every started crawl, sorted;
  `delete(crawl)` removes every trace of it (a Redis key scan of its prefix after delete finds nothing).
* Unknown crawls: claim_children and finish raise KeyError naming the crawl.
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
    new: list[str]  # claimed by this parent, in candidate order
    replay: bool  # True: this parent's claim happened before; `new` is what it claimed then


@dataclass(frozen=True, slots=True)
class FinishResult:
    first: bool  # False when the video was already finished
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
    def start(self, crawl: str, caps: CrawlCaps, seeds: Sequence[str], now_ms: int) -> list[str]: ...

    def claim_children(self, crawl: str, parent: str, child_depth: int, candidates: Sequence[str]) -> ClaimResult: ...

    def finish(self, crawl: str, video: str, depth: int, now_ms: int) -> FinishResult: ...

    def is_done(self, crawl: str, video: str) -> bool: ...

    def summary(self, crawl: str) -> CrawlSummary | None: ...

    def crawls(self) -> list[str]: ...

    def delete(self, crawl: str) -> None: ...

    def close(self) -> None: ...
