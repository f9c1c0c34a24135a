"""What both CrawlState backends decide the same way, so they cannot drift: which names, caps, depths and seqs are
valid (checked before any I/O, so a bad call changes nothing; a seq the crawl never gave is a KeyError, known
only once its counter is read), how candidates are deduplicated, what a claim returns, and how the per-depth
counters become a summary's `depths`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from workloads.crawl_state.base import CRAWL_NAME, ClaimResult, CrawlCaps, DepthCounts


def check_name(crawl: str) -> None:
    if not CRAWL_NAME.match(crawl):
        raise ValueError(f"bad crawl name {crawl!r}: expected {CRAWL_NAME.pattern}")


def check_caps(caps: CrawlCaps) -> None:
    if caps.max_depth < 0:
        raise ValueError(f"max_depth must be at least 0, got {caps.max_depth}")
    if caps.max_videos < 1:
        raise ValueError(f"max_videos must be at least 1, got {caps.max_videos}")
    if caps.dedupe not in ("set", "bloom"):
        raise ValueError(f"dedupe must be 'set' or 'bloom', got {caps.dedupe!r}")
    if not 0.0 < caps.bloom_error < 1.0:
        raise ValueError(f"bloom_error must be between 0 and 1, got {caps.bloom_error}")


def check_depth(depth: int, least: int) -> None:
    # Seeds are depth 0, so a child is at depth 1 at least.
    if depth < least:
        raise ValueError(f"depth must be at least {least}, got {depth}")


def check_seq(seq: int) -> None:
    if seq < 0:
        raise ValueError(f"seq must be at least 0, got {seq}")


def unclaimed(crawl: str, seq: int) -> KeyError:
    """The error for a seq at or past the crawl's claim counter: no video of the crawl has it."""
    return KeyError(f"crawl {crawl!r} has no video with seq {seq}")


def claim_result(videos: Sequence[str], first_seq: int, replay: bool) -> ClaimResult:
    """A claim's videos with their seqs: one claim takes consecutive seqs from first_seq, in candidate order."""
    new = [str(video) for video in videos]
    return ClaimResult(new, list(range(first_seq, first_seq + len(new))), replay)


def distinct(videos: Sequence[str]) -> list[str]:
    """The videos without repeats, in first-seen order: a repeat is a video this very call already took."""
    return list(dict.fromkeys(videos))


def seeds_to_claim(caps: CrawlCaps, seeds: Sequence[str]) -> tuple[list[str], int]:
    """(the seeds start claims, how many the videos cap cut), for a crawl with no video seen yet."""
    unique = distinct(seeds)
    if not unique:
        raise ValueError("a crawl needs at least one seed")
    return unique[: caps.max_videos], max(len(unique) - caps.max_videos, 0)


def depth_counts(claimed: Mapping[int, int], done: Mapping[int, int]) -> list[DepthCounts]:
    """Depth 0 to the deepest depth with a count, zeros filled in, so `depths[d].depth == d`."""
    deepest = max((d for d, n in (*claimed.items(), *done.items()) if n), default=0)
    return [DepthCounts(d, claimed.get(d, 0), done.get(d, 0)) for d in range(deepest + 1)]
