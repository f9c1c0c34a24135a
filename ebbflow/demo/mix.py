"""The demo's workload: what arrives when, and how each arrival is queued.

One seeded timeline over the run: sign-ups (urgent) and active-user refreshes (daily, weekly, monthly) arrive
at random moments; one hour of hot topics for a few dozen places arrives at the start (the top of the hour);
a capped related-video crawl and a stale-video sweep come early; one tenant dumps a 5,000-job burst a third of
the way in; and halfway through a spot node is reclaimed without notice. Packs are planned exactly as
`ebbflow pack submit` plans them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from scheduler.job import NewJob
from scheduler.queue import Scheduler
from workloads.context import PlanContext, submit_planned
from workloads.discovery import find_pack, load_packs
from workloads.resources import Resources
from workloads.world import HOT_TOPIC_WOEIDS, World

Kind = Literal["signup", "refresh", "hot-topics", "crawl", "stale-sweep", "burst", "reclaim"]
REFRESH_CLASSES = ("daily-active", "daily-active", "weekly-active", "monthly-active")
MAX_FRIENDS = 600  # users followed by more are left out: one of them would outlast a two-minute demo
BURST_TENANT = "bulk-import"
BURST_CHUNK = 1000  # jobs per submit_many call
DEFAULT_MINUTES = 2.0


@dataclass(frozen=True, slots=True)
class MixSize:
    signups: int = 20
    refreshes: int = 60
    places: int = 30
    crawl_seeds: int = 3
    crawl_max_videos: int = 150
    catalogue: int = 6000  # known videos the stale sweep re-checks
    burst: int = 5000
    reclaims: int = 1

    def scaled(self, minutes: float) -> MixSize:
        """The mix for a run of `minutes`: these sizes are for the default two minutes."""
        share = minutes / DEFAULT_MINUTES

        def of(n: int) -> int:
            return max(1, round(n * share))

        return MixSize(
            signups=of(self.signups), refreshes=of(self.refreshes), places=min(of(self.places), 60),
            crawl_seeds=self.crawl_seeds, crawl_max_videos=of(self.crawl_max_videos), catalogue=of(self.catalogue),
            burst=of(self.burst), reclaims=self.reclaims,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Arrival:
    at_s: float  # seconds after the start
    kind: Kind
    params: Mapping[str, Any]

    def describe(self) -> str:
        match self.kind:
            case "signup":
                return f"new sign-up: user {self.params['users']}"
            case "refresh":
                return f"refresh ({self.params['activity']}): user {self.params['users']}"
            case "hot-topics":
                return f"hot topics for the hour: {len(self.params['woeids'].split(','))} places"
            case "crawl":
                return f"related-video crawl from {self.params['seeds']} (≤ {self.params['max_videos']} videos)"
            case "stale-sweep":
                return "stale-video sweep of the catalogue"
            case "burst":
                return f"burst: {self.params['jobs']:,} jobs from tenant {BURST_TENANT!r}"
            case "reclaim":
                return "spot reclaim: a spot node vanishes without notice"


def timeline(world: World, size: MixSize, duration_s: float, rng: random.Random) -> list[Arrival]:
    """Every arrival of the run, in time order. Users arrive over the first 75 % so the run can drain."""
    users = _users(world, size.signups + size.refreshes, rng)
    arrivals = [Arrival(0.0, "hot-topics", {"woeids": ",".join(map(str, _places(size.places, rng)))})]
    seeds = ",".join(_alive_videos(world, size.crawl_seeds, rng))
    arrivals.append(Arrival(0.05 * duration_s, "crawl", {"seeds": seeds, "max_videos": size.crawl_max_videos}))
    arrivals.append(Arrival(0.15 * duration_s, "stale-sweep", {}))
    arrivals.append(Arrival(0.33 * duration_s, "burst", {"jobs": size.burst}))
    arrivals += [Arrival((0.5 + 0.2 * i) * duration_s, "reclaim", {}) for i in range(size.reclaims)]
    for i, user in enumerate(users):
        at = rng.uniform(0, 0.75 * duration_s)
        if i < size.signups:
            arrivals.append(Arrival(at, "signup", {"users": user, "activity": "new-signup"}))
        else:
            arrivals.append(Arrival(at, "refresh", {"users": user, "activity": rng.choice(REFRESH_CLASSES)}))
    return sorted(arrivals, key=lambda arrival: arrival.at_s)


def _users(world: World, count: int, rng: random.Random) -> list[str]:
    chosen: list[str] = []
    while len(chosen) < count:
        user = str(rng.randint(1, world.config.users))
        if user not in chosen and world.degree(user) <= MAX_FRIENDS:
            chosen.append(user)
    return chosen


def _places(count: int, rng: random.Random) -> list[int]:
    worldwide, *countries = HOT_TOPIC_WOEIDS
    return [worldwide, *rng.sample(countries, min(count, len(countries) + 1) - 1)]


def _alive_videos(world: World, count: int, rng: random.Random) -> list[str]:
    found: list[str] = []
    while len(found) < count:
        video = world.video(world.video_id(rng.randrange(world.config.videos)))
        if video is not None and video.status == "alive" and video.video_id not in found:
            found.append(video.video_id)
    return found


class Submitter:
    """Queues an arrival's jobs; returns how many were queued."""

    def __init__(self, scheduler: Scheduler, resources: Resources, rng: random.Random) -> None:
        self._scheduler = scheduler
        self._resources = resources
        self._rng = rng
        self._packs = load_packs()

    def submit(self, arrival: Arrival) -> int:
        match arrival.kind:
            case "signup" | "refresh":
                return self._pack("social-graph", arrival.params)
            case "hot-topics":
                return self._pack("hot-topics", {**arrival.params, "job_class": "daily-active"})
            case "crawl":
                return self._pack("related-crawl", {**arrival.params, "max_depth": 3})
            case "stale-sweep":
                return self._pack("stale-videos", {"older_than_days": 7, "batch_size": 500})
            case "burst":
                return self._burst(int(arrival.params["jobs"]))
            case "reclaim":
                return 0  # not a submit: the run loop does it (it needs the cluster)

    def _pack(self, name: str, params: Mapping[str, Any]) -> int:
        pack = find_pack(self._packs, name)
        planned = pack.plan(pack.params.model_validate(params), PlanContext.now(self._resources))
        return sum(result.created for result in submit_planned(self._scheduler, planned))

    def _burst(self, count: int) -> int:
        # Short re-check style jobs: the point is their number, and that one tenant sends them all at once.
        jobs: list[NewJob] = [
            self._scheduler.prepare(
                "sleep", {"seconds": round(self._rng.uniform(0.002, 0.02), 4)}, tenant=BURST_TENANT,
                job_class="daily-active",
            )
            for _ in range(count)
        ]  # fmt: skip
        created = 0
        for start in range(0, len(jobs), BURST_CHUNK):
            created += sum(r.created for r in self._scheduler.submit_many(jobs[start : start + BURST_CHUNK]))
        return created
