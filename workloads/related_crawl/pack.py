"""The related-crawl pack: from seed videos, breadth first, each video's related videos, into the index.

Each `related-crawl.fetch` job reads one video's watch page, stores the video (title, duration) and its related
links, claims the related videos the crawl has not seen (workloads.crawl_state: a test-and-set shared by every
worker, under the crawl's depth and videos caps) and queues them at depth + 1. So no video is crawled twice, and
the frontier, which grows about eightfold a level, stops at the caps instead of at the end of the site. Each
claimed video gets a seq (its number in the crawl, seeds first) that its job carries: the crawl state tracks
done videos and claims by seq, a bit a video instead of its id again.

Background level, spot only, and at most `max_spot_concurrency` fetches at once (`packs.max_spot_slots` in the
configuration overrides it): the autoscaler reads that cap, so a frontier of a million queued fetches asks for
that many slots, not a million.

Safe to re-run: a fetch re-run after a preemption gets back the children its first run claimed, with their seqs
(and queues them again, idempotently), and a fetch of a video already finished does nothing, even one that
slips past that check (its claim comes back empty); the crawl's counters count each video once. The fetch that
finishes the last claimed video ends the crawl and logs its summary (also in `ebbflow status` and
`ebbflow crawl show NAME`).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from scheduler.job import JSONValue
from workloads.context import PackContext, PlanContext
from workloads.crawl_state.base import CRAWL_NAME, CrawlCaps, CrawlSummary
from workloads.pack import Pack, PackJobType, PlannedJob
from workloads.params import split_commas

TENANT = "related-crawl"
VIDEO_ID = r"^[A-Za-z0-9_-]{11}$"
DEFAULT_SPOT_SLOTS = 16


class RelatedCrawlParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seeds: Annotated[list[Annotated[str, Field(pattern=VIDEO_ID)]], BeforeValidator(split_commas)] = Field(
        min_length=1, max_length=10_000, description="video ids to start from (comma-separated)"
    )
    name: str | None = Field(
        default=None, pattern=CRAWL_NAME.pattern, description="the crawl's name; default: one derived from the seeds"
    )
    max_depth: int = Field(default=3, ge=0, le=50, description="seeds are depth 0; deeper videos are not crawled")
    max_videos: int = Field(default=10_000, ge=1, le=1_000_000_000, description="most videos crawled in all")
    dedupe: Literal["set", "bloom"] = Field(
        default="set", description="seen videos: an exact set, or a Bloom filter (Redis: ~1.8 bytes a video)"
    )
    tenant: str = Field(default=TENANT, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _seeds_once(self) -> RelatedCrawlParams:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds repeat a video; give each once")
        return self

    def crawl_name(self) -> str:
        """The given name, or one derived from the seeds: submitting the same seeds again is the same crawl."""
        if self.name is not None:
            return self.name
        digest = hashlib.blake2b(",".join(sorted(self.seeds)).encode(), digest_size=6).hexdigest()
        return f"crawl-{digest}"

    def caps(self) -> CrawlCaps:
        return CrawlCaps(max_depth=self.max_depth, max_videos=self.max_videos, dedupe=self.dedupe)


def plan(params: RelatedCrawlParams, ctx: PlanContext) -> list[PlannedJob]:
    """Start the crawl (claim its seeds) and queue their fetches. A dry run claims nothing."""
    crawl = params.crawl_name()
    if ctx.dry_run:  # the seqs start would give
        seeds = [(video, seq) for seq, video in enumerate(params.seeds[: params.max_videos])]
    else:
        seeds = ctx.resources.crawl_state.start(crawl, params.caps(), params.seeds, ctx.now_ms).claimed
    return [fetch_job(crawl, video, seq, 0, params.tenant) for video, seq in seeds]


def fetch_job(crawl: str, video: str, seq: int, depth: int, tenant: str) -> PlannedJob:
    """The fetch of one claimed video: `seq` is the one the crawl state gave it when it was claimed."""
    return PlannedJob(
        type="related-crawl.fetch",
        payload={"crawl": crawl, "video": video, "seq": seq, "depth": depth},
        tenant=tenant,
        job_class="batch",
        key=f"related-crawl:{crawl}:{video}",
    )


def run_fetch(payload: JSONValue, ctx: PackContext) -> JSONValue:
    from workloads.index import VideoRecord
    from workloads.sources.errors import SourceUnavailableError
    from workloads.sources.urls import watch_url

    assert isinstance(payload, dict)  # the schema says so; the scheduler checked it at submit
    crawl, video, depth = str(payload["crawl"]), str(payload["video"]), int(payload["depth"])
    seq = int(payload["seq"])
    state, index = ctx.resources.crawl_state, ctx.resources.index
    if state.is_done(crawl, seq):
        return {"video": video, "skipped": "already crawled"}
    page = ctx.resources.videos.page(video)
    if page.liveness.verdict == "retry":  # unread is not "no related videos": the subtree would be lost
        raise SourceUnavailableError(f"watch page of {video} unreadable ({page.liveness.reason}); retried later")
    alive = page.liveness.verdict == "alive"
    related = list(page.related) if alive else []
    claim = state.claim_children(crawl, seq, depth + 1, related)
    if alive:
        now_ms = ctx.now_ms()
        found = [VideoRecord(video, watch_url(CANONICAL_VIDEO_BASE, video), page.title, None, page.duration_s, now_ms)]
        found += [VideoRecord(vid, watch_url(CANONICAL_VIDEO_BASE, vid), seen_ms=now_ms) for vid in related]
        index.upsert_videos(found)  # children without metadata: their own fetch fills it in
        index.add_related(video, related)
    if claim.new:
        ctx.submit(
            [fetch_job(crawl, child, child_seq, depth + 1, ctx.job.tenant) for child, child_seq in claim.claimed]
        )
    finished = state.finish(crawl, seq, depth, ctx.now_ms())
    result: dict[str, JSONValue] = {"video": video, "depth": depth, "alive": alive, "queued": len(claim.new)}
    if finished.crawl_finished:
        summary = state.summary(crawl)
        assert summary is not None  # it was just finished
        ctx.log.info("crawl %s finished: %s", crawl, summary_line(summary))
        result["crawl_finished"] = summary_line(summary)
    return result


def summary_line(summary: CrawlSummary) -> str:
    depths = ", ".join(f"depth {d.depth}: {d.done}" for d in summary.depths)
    reason = summary.stop_reason or "running"
    return f"{summary.done} videos crawled ({depths}); stopped by {reason}"


CANONICAL_VIDEO_BASE = "https://www.youtube.com"  # the index keeps the public URL, whatever the sources talk to

FETCH_SCHEMA = {
    "type": "object",
    "properties": {
        "crawl": {"type": "string", "pattern": CRAWL_NAME.pattern},
        "video": {"type": "string", "pattern": VIDEO_ID},
        "seq": {"type": "integer", "minimum": 0},  # the video's number in the crawl (workloads.crawl_state)
        "depth": {"type": "integer", "minimum": 0, "maximum": 50},
    },
    "required": ["crawl", "video", "seq", "depth"],
    "additionalProperties": False,
}

PACK = Pack(
    name="related-crawl",
    description="breadth-first crawl of related videos from seeds, deduplicated, capped by depth, videos and slots",
    params=RelatedCrawlParams,
    job_types=(
        PackJobType(
            name="fetch",
            run=run_fetch,
            description="one video's watch page: store it, claim and queue its unseen related videos",
            payload_schema=FETCH_SCHEMA,
            default_class="batch",
            markets="spot",
            expected_run_s=0.5,  # one watch page from a real site
            max_spot_concurrency=DEFAULT_SPOT_SLOTS,
            time_limit_s=120.0,
        ),
    ),
    plan=plan,
)
