"""The CrawlState port on Redis (see workloads.crawl_state.base for the contract).

Key layout, built by `CrawlKeys` and nowhere else. The braces are a hash tag: every key of one crawl hashes
to one Redis Cluster slot, so a script on them never crosses slots.

    {prefix}crawl:{<name>}:meta    hash    caps (max_depth, max_videos, dedupe, bloom_error, and the filter's
                                           bits and hashes: 0 for "set"), started_ms, finished_ms (once
                                           finished), the totals claimed (the claim counter: the next seq) and
                                           done, claimed:<d> and done:<d> per depth, cut_by_depth, cut_by_cap,
                                           and the seeds start claimed (seqs 0, 1, ...)
    {prefix}crawl:{<name>}:seen    set     dedupe "set": every claimed video
                                   string  dedupe "bloom": the Bloom filter's bits (workloads.crawl_state.bloom)
    {prefix}crawl:{<name>}:claims  hash    parent seq -> JSON [first seq, child...]: what a parent not finished
                                           yet claimed (possibly nothing); its children's seqs run on from the
                                           first. Field dropped by the parent's finish.
    {prefix}crawl:{<name>}:done    string  bitmap: bit <seq> set once that video is finished (SETBIT)
    {prefix}crawls                 set     names of the started crawls

The finish that ends a crawl drops its claims and done keys: a finished crawl is its meta and seen keys alone.

start, claim_children, finish, is_done and delete are one Lua script call each (workloads/crawl_state/lua/),
so workers claiming at once never claim a video twice nor pass max_videos, and seqs stay dense (is_done too:
the finish that ends a crawl drops its bitmap, and must not do so between is_done's two reads). The hot path,
is_done, claim_children and finish, touches only the crawl's slot; start and delete also touch the crawls set,
which lives in another slot, so on a Redis Cluster they would fail with CROSSSLOT: like the rankings, this
backend wants one server.

The Bloom filter's bit positions are computed in Python, for the filter shape this object last saw for the
crawl; the claim script checks that shape against the crawl's and, if a crawl of that name was deleted and
started again with other caps, says so, and the call is retried with the right one.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any, cast

import redis
from redis.commands.core import Script

from workloads.crawl_state.base import ClaimResult, CrawlCaps, CrawlSummary, FinishResult
from workloads.crawl_state.bloom import EXACT, BloomShape, bloom_shape, positions_arg
from workloads.crawl_state.rules import (
    check_caps,
    check_depth,
    check_name,
    check_seq,
    claim_result,
    depth_counts,
    distinct,
    seeds_to_claim,
    unclaimed,
)

SCRIPTS = ("start", "claim", "finish", "is_done", "delete")
UNKNOWN, STALE_SHAPE, UNCLAIMED, REPLAY = -1, -2, -3, 1  # the scripts' status codes
SHAPE_TRIES = 3  # a crawl restarted with other caps between two tries is retried, a few times


class CrawlKeys:
    """Every key of one crawl (the layout is in the module docstring)."""

    def __init__(self, prefix: str, crawl: str) -> None:
        tagged = f"{prefix}crawl:{{{crawl}}}:"
        self.meta, self.seen, self.claims, self.done = (tagged + part for part in ("meta", "seen", "claims", "done"))

    def all(self) -> list[str]:
        return [self.meta, self.seen, self.claims, self.done]


def _load_scripts(client: redis.Redis) -> dict[str, Script]:
    folder = resources.files("workloads.crawl_state") / "lua"
    return {name: client.register_script((folder / f"{name}.lua").read_text("utf-8")) for name in SCRIPTS}


def _shape(caps: CrawlCaps) -> BloomShape:
    return bloom_shape(caps.max_videos, caps.bloom_error) if caps.dedupe == "bloom" else EXACT


def _with_positions(videos: list[str], shape: BloomShape) -> list[str]:
    """The script arguments for these videos: for a Bloom filter, each followed by its bit positions' string."""
    if shape.hashes == 0:
        return list(videos)
    return [arg for video in videos for arg in (video, positions_arg(video, shape))]


class RedisCrawlState:
    """The CrawlState port on Redis. The client must decode responses (decode_responses=True); close() closes it."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        if not client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisCrawlState needs a client made with decode_responses=True")
        self.prefix = prefix
        self.crawls_key = f"{prefix}crawls"
        self._client = client
        self._scripts = _load_scripts(client)
        self._shapes: dict[str, BloomShape] = {}  # per crawl, the filter shape last seen (see the docstring)

    def keys(self, crawl: str) -> CrawlKeys:
        return CrawlKeys(self.prefix, crawl)

    def _run(self, script: str, keys: list[str], args: list[Any]) -> list[Any]:
        return cast("list[Any]", self._scripts[script](keys=keys, args=args, client=self._client))

    def start(self, crawl: str, caps: CrawlCaps, seeds: Sequence[str], now_ms: int) -> ClaimResult:
        check_name(crawl)
        check_caps(caps)
        shape = _shape(caps)  # raises before any I/O if Redis cannot hold the filter
        claimed, cut = seeds_to_claim(caps, seeds)
        keys = self.keys(crawl)
        args = [crawl, caps.max_depth, caps.max_videos, caps.dedupe, repr(caps.bloom_error), shape.bits]
        args += [shape.hashes, now_ms, cut, *_with_positions(claimed, shape)]
        status, *seeds_claimed = self._run("start", [keys.meta, keys.seen, self.crawls_key], args)
        self._shapes[crawl] = shape  # a guess when the crawl existed with other caps: claim_children corrects it
        return claim_result(seeds_claimed, 0, status == REPLAY)

    def claim_children(self, crawl: str, parent_seq: int, child_depth: int, candidates: Sequence[str]) -> ClaimResult:
        check_name(crawl)
        check_seq(parent_seq)
        check_depth(child_depth, least=1)
        videos, keys = distinct(candidates), self.keys(crawl)
        for _ in range(SHAPE_TRIES):
            shape = self._shapes.get(crawl, EXACT)
            args = [parent_seq, child_depth, shape.bits, shape.hashes, *_with_positions(videos, shape)]
            status, *rest = self._run("claim", [keys.meta, keys.seen, keys.claims, keys.done], args)
            if status == UNKNOWN:
                raise KeyError(f"unknown crawl {crawl!r}")
            if status == UNCLAIMED:
                raise unclaimed(crawl, parent_seq)
            if status != STALE_SHAPE:
                return claim_result(rest[1:], int(rest[0]), status == REPLAY)
            self._shapes[crawl] = BloomShape(bits=int(rest[0]), hashes=int(rest[1]))
        raise RuntimeError(f"crawl {crawl!r} kept changing its Bloom filter shape; is it being restarted?")

    def finish(self, crawl: str, seq: int, depth: int, now_ms: int) -> FinishResult:
        check_name(crawl)
        check_seq(seq)
        check_depth(depth, least=0)
        keys = self.keys(crawl)
        reply = self._run("finish", [keys.meta, keys.done, keys.claims], [seq, depth, now_ms])
        if reply[0] == UNKNOWN:
            raise KeyError(f"unknown crawl {crawl!r}")
        if reply[0] == UNCLAIMED:
            raise unclaimed(crawl, seq)
        return FinishResult(first=reply[0] == 1, crawl_finished=reply[1] == 1)

    def is_done(self, crawl: str, seq: int) -> bool:
        check_name(crawl)
        check_seq(seq)
        keys = self.keys(crawl)
        status = int(self._scripts["is_done"](keys=[keys.meta, keys.done], args=[seq], client=self._client))
        if status == UNCLAIMED:
            raise unclaimed(crawl, seq)
        return status == 1  # UNKNOWN for an unknown crawl: not done

    def summary(self, crawl: str) -> CrawlSummary | None:
        check_name(crawl)
        meta = cast("dict[str, str]", self._client.hgetall(self.keys(crawl).meta))
        return _summary(crawl, meta) if meta else None

    def crawls(self) -> list[str]:
        return sorted(cast("set[str]", self._client.smembers(self.crawls_key)))

    def delete(self, crawl: str) -> None:
        check_name(crawl)
        self._run("delete", [*self.keys(crawl).all(), self.crawls_key], [crawl])
        self._shapes.pop(crawl, None)

    def close(self) -> None:
        self._client.close()


def _summary(crawl: str, meta: dict[str, str]) -> CrawlSummary:
    caps = CrawlCaps(
        max_depth=int(meta["max_depth"]),
        max_videos=int(meta["max_videos"]),
        dedupe="bloom" if meta["dedupe"] == "bloom" else "set",
        bloom_error=float(meta["bloom_error"]),
    )
    per_depth: dict[str, dict[int, int]] = {"claimed": {}, "done": {}}
    for field, value in meta.items():
        counter, _, depth = field.partition(":")
        if depth and counter in per_depth:
            per_depth[counter][int(depth)] = int(value)
    finished = meta.get("finished_ms")
    return CrawlSummary(
        crawl=crawl,
        caps=caps,
        started_ms=int(meta["started_ms"]),
        finished_ms=int(finished) if finished is not None else None,
        depths=depth_counts(per_depth["claimed"], per_depth["done"]),
        cut_by_depth=int(meta["cut_by_depth"]),
        cut_by_cap=int(meta["cut_by_cap"]),
    )
