"""JobStore on Redis: every transition is one Lua script (scheduler/lua/), so it is atomic and costs one
round trip; a lease is O(log n) in the queue's length. Key layout: scheduler.redis_keys."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any, ParamSpec, TypeVar

import redis

from scheduler.bounds import DEMOTED_SCAN, LEASE_REAP_LIMIT, MOVE_BATCH, RETRY_BATCH, chunks, demote_in_steps
from scheduler.errors import StaleLeaseError
from scheduler.job import (
    DEAD_LETTERED,
    Job,
    JobState,
    Lease,
    LeaseInfo,
    LeaseRef,
    NewJob,
    SubmitResult,
    UnreadableRecordError,
    decode_stored,
)
from scheduler.redis_errors import outages_as_store_errors
from scheduler.redis_keys import Keys
from scheduler.redis_reads import RedisReads, decode_counts
from scheduler.redis_requirements import check_server
from scheduler.store import (
    ARRIVALS_PRUNE_HOURS,
    HOUR_MS,
    ArrivalBucket,
    Demotion,
    HistoryBucket,
    Move,
    QueueStats,
    WaitingJob,
    first_kept_hour,
)

SCRIPTS = (
    "submit",
    "lease",
    "ack",
    "fail",
    "release",
    "touch",
    "reap",
    "move",
    "demote",
    "retry_dead",
    "prune_dead",
    "prune_expired",
)
BATCH = 1000  # jobs per script call: keeps every variadic command within Lua's argument limits
REAP_LIMIT = LEASE_REAP_LIMIT  # expired leases and due retries handled per lease call
_log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def _load_scripts() -> dict[str, str]:
    folder = resources.files("scheduler") / "lua"
    common = (folder / "common.lua").read_text()
    return {name: common + "\n" + (folder / f"{name}.lua").read_text() for name in SCRIPTS}


def decoded_client(client: redis.Redis | str) -> redis.Redis:
    """A client that returns str, built from a URL or from another client's connection settings."""
    if isinstance(client, str):
        return redis.Redis.from_url(client, decode_responses=True)
    pool = client.connection_pool
    if pool.connection_kwargs.get("decode_responses"):
        return client
    kwargs = {**pool.connection_kwargs, "decode_responses": True}
    return redis.Redis(connection_pool=type(pool)(connection_class=pool.connection_class, **kwargs))


class RedisStore:
    def __init__(
        self,
        client: redis.Redis | str,
        levels: int,
        namespace: str = "ebbflow",
        finished_retention: int = 10_000,
    ) -> None:
        self.levels = levels
        self.finished_retention = finished_retention
        self.client = decoded_client(client)
        self.keys = Keys(namespace)
        self._sources = _load_scripts()
        self._shas = {name: hashlib.sha1(src.encode()).hexdigest() for name, src in self._sources.items()}
        self._reads = RedisReads(self.client, self.keys, levels)
        try:  # noeviction and Redis >= 6.2, or a clear error now rather than lost jobs later
            check_server(self.client)
        except BaseException:
            if self.client is not client:  # ours (made from a URL or another client's settings): close it
                self.client.close()
            raise

    def _run(self, script: str, *args: Any) -> Any:
        # EVALSHA directly: redis-py's Script wrapper costs several µs a call,
        # which shows when jobs go one at a time. A server that lost its script cache gets it again.
        # An outage (BUSY, OOM, LOADING, READONLY... or a lost connection) is a StoreUnavailableError to wait
        # out; a script that met one did nothing, so calling it again later is safe (scheduler.redis_errors).
        with outages_as_store_errors(self.client):
            try:
                return self.client.evalsha(self._shas[script], 1, self.keys.prefix, *args)
            except redis.exceptions.NoScriptError:
                self.client.script_load(self._sources[script])
                return self.client.evalsha(self._shas[script], 1, self.keys.prefix, *args)

    # -- writes ------------------------------------------------------------------------------------

    def submit(self, jobs: Sequence[NewJob], now_ms: int) -> list[SubmitResult]:
        results: list[SubmitResult] = []
        arrivals = (now_ms // HOUR_MS, first_kept_hour(now_ms), ARRIVALS_PRUNE_HOURS)
        for start in range(0, len(jobs), BATCH):
            args: list[Any] = [now_ms, *arrivals]
            for job in jobs[start : start + BATCH]:
                args += (job.id, job.record(), job.tenant, job.type, job.level, _or_empty(job.deadline_ms))
                args += (_or_empty(job.key), _or_empty(job.key_ttl_ms), job.estimate_ms)
            flat = self._run("submit", *args)
            results += [SubmitResult(flat[i], flat[i + 1] == 1) for i in range(0, len(flat), 2)]
        return results

    def lease(self, n: int, worker: str, ttl_ms: int, now_ms: int, levels: Sequence[int] | None = None) -> list[Lease]:
        order: Sequence[object] = sorted(levels) if levels is not None else ["all"]
        leases: list[Lease] = []
        while n > 0:
            take = min(n, BATCH)
            first_token, buried, *flat = self._run("lease", now_ms, take, ttl_ms, worker, REAP_LIMIT, *order) or [0, 0]
            expires = now_ms + ttl_ms
            granted = len(leases)
            for i in range(0, len(flat), 5):
                ref = LeaseRef(flat[i], first_token + i // 5)
                try:
                    leases.append(_lease(flat, i, ref.token, worker, now_ms, expires))
                except UnreadableRecordError as problem:
                    # the script could read its head but not the rest: dead-letter it here, or it would
                    # come back to every worker after each lease expiry
                    self.release(ref, f"{problem}: {DEAD_LETTERED}", now_ms, dead=True, counted=False)
                    _log.warning("job %s dead-lettered: %s", ref.job_id, problem)
            if buried:
                _log.warning("lease: %d queue entries were damaged or stale and were not handed out", buried)
            if len(flat) // 5 + buried < take:
                break  # the queue ran dry
            # a dead-lettered job took no slot: ask again for as many (each round takes one job out at least)
            n -= len(leases) - granted
        return leases

    def heartbeat(self, refs: Sequence[LeaseRef], ttl_ms: int, now_ms: int) -> list[bool]:
        return self._touch("heartbeat", now_ms + ttl_ms, refs)

    def ack(self, refs: Sequence[LeaseRef], now_ms: int) -> list[bool]:
        out: list[bool] = []
        for start in range(0, len(refs), BATCH):
            flat = self._run("ack", now_ms, self.finished_retention, *_pairs(refs[start : start + BATCH]))
            out += [v == 1 for v in flat]
        return out

    def fail(self, ref: LeaseRef, error: str, now_ms: int, retry_at_ms: int | None) -> None:
        if not self._run("fail", now_ms, ref.job_id, ref.token, error, _or_empty(retry_at_ms)):
            raise StaleLeaseError(ref.job_id, ref.token)

    def release(
        self,
        ref: LeaseRef,
        reason: str,
        now_ms: int,
        dead: bool = False,
        *,
        counted: bool = True,
        retry_at_ms: int | None = None,
    ) -> None:
        if dead and retry_at_ms is not None:
            raise ValueError("release: a dead job cannot also wait for a retry (dead=True with retry_at_ms)")
        args = (now_ms, ref.job_id, ref.token, reason, int(dead), int(counted), _or_empty(retry_at_ms))
        if not self._run("release", *args):
            raise StaleLeaseError(ref.job_id, ref.token)

    def save_checkpoint(self, ref: LeaseRef, checkpoint_json: str) -> None:
        if not self._touch("checkpoint", checkpoint_json, [ref])[0]:
            raise StaleLeaseError(ref.job_id, ref.token)

    def save_progress(self, ref: LeaseRef, progress_json: str) -> None:
        if not self._touch("progress", progress_json, [ref])[0]:
            raise StaleLeaseError(ref.job_id, ref.token)

    def reap(self, now_ms: int, limit: int = 1000) -> int:
        # the script also audits `limit` fields of the jobs hash against the indexes (docs/store-damage.md)
        reaped, repaired = self._run("reap", now_ms, limit, self.levels)
        if repaired:
            _log.warning("store audit repaired %d damaged job entries (details in the Redis server log)", repaired)
        return int(reaped)

    def move(self, job_ids: Sequence[str], to_level: int, reason: str, now_ms: int) -> int:
        return sum(int(self._run("move", now_ms, to_level, reason, *part)) for part in chunks(job_ids, MOVE_BATCH))

    def demote_tenant(
        self, tenant: str, level: int, to_level: int, until_ms: int, reason: str, now_ms: int, limit: int | None = None
    ) -> int:
        if to_level <= level:
            raise ValueError(f"to_level must be below level {level} (a larger index), got {to_level}")
        start = (to_level, until_ms, reason)
        return demote_in_steps(
            lambda take, first: self._demote_step(level, tenant, now_ms, take, start if first else None), limit
        )

    def resume_demotions(self, now_ms: int) -> int:
        # only demotions whose move was cut short are listed there: a handful, so one HKEYS
        under_way = self._guarded(self.client.hkeys, self.keys.demoting)
        return sum(self._resume(str(field), now_ms) for field in under_way)

    def _resume(self, field: str, now_ms: int) -> int:
        level, _, tenant = field.partition("|")
        if not level.isdigit():  # damage: names no level, so no move can go on from it
            self._guarded(self.client.hdel, self.keys.demoting, field)
            return 0
        return demote_in_steps(lambda take, _: self._demote_step(int(level), tenant, now_ms, take, None), None)

    def _demote_step(
        self, level: int, tenant: str, now_ms: int, take: int, start: tuple[int, int, str] | None
    ) -> tuple[int, bool]:
        """One atomic demotion step (scheduler/lua/demote.lua): moved, and whether the move is finished."""
        moved, done = self._run("demote", now_ms, level, tenant, take, *(start or ()))
        return int(moved), done == 1

    def prune_expired(self, now_ms: int) -> int:
        return int(self._run("prune_expired", now_ms, DEMOTED_SCAN))

    def prune_dead_letters(self, died_before_ms: int, keep: int, limit: int) -> tuple[int, bool]:
        dropped, taken = self._run("prune_dead", died_before_ms, keep, limit)
        return int(dropped), int(taken) >= limit

    def retry_dead(self, job_ids: Sequence[str], now_ms: int) -> int:
        return sum(int(self._run("retry_dead", now_ms, *part)) for part in chunks(job_ids, RETRY_BATCH))

    def time_ms(self) -> int:
        """The Redis server's clock (`TIME`): on a cluster of hosts, the only one they share."""
        seconds, micros = self._guarded(self.client.time)
        return int(seconds) * 1000 + int(micros) // 1000

    def purge(self) -> None:
        with outages_as_store_errors(self.client):
            batch: list[str] = []
            for key in self.client.scan_iter(match=self.keys.prefix + "*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    self.client.unlink(*batch)
                    batch.clear()
            if batch:
                self.client.unlink(*batch)

    def close(self) -> None:
        self.client.close()

    def _touch(self, mode: str, value: Any, refs: Sequence[LeaseRef]) -> list[bool]:
        if not refs:
            return []
        return [v == 1 for v in self._run("touch", mode, value, *_pairs(refs))]

    # -- reads (scheduler.redis_reads) ---------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        return self._guarded(self._reads.get, job_id)

    def demotions(self, now_ms: int) -> list[Demotion]:
        return self._guarded(self._reads.demotions, now_ms)

    def waiting(self, level: int, enqueued_before_ms: int, limit: int) -> list[WaitingJob]:
        return self._guarded(self._reads.waiting, level, enqueued_before_ms, limit)

    def due(self, level: int, deadline_before_ms: int, limit: int) -> list[WaitingJob]:
        return self._guarded(self._reads.due, level, deadline_before_ms, limit)

    def usage(self, since_ms: int) -> dict[tuple[int, str], int]:
        return self._guarded(self._reads.usage, since_ms)

    def moves(self, limit: int = 100) -> list[Move]:
        return self._guarded(self._reads.moves, limit)

    def stats(self) -> QueueStats:
        return self._guarded(self._reads.stats)

    def history(self, since_ms: int) -> list[HistoryBucket]:
        return self._guarded(self._reads.history, since_ms)

    def arrivals(self, since_ms: int) -> list[ArrivalBucket]:
        return self._guarded(self._reads.arrivals, since_ms)

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[Job]:
        return self._guarded(self._reads.dead_letters, limit, offset)

    def _guarded(self, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        with outages_as_store_errors(self.client):
            return read(*args, **kwargs)


def _or_empty(value: object) -> object:
    return "" if value is None else value


def _pairs(refs: Sequence[LeaseRef]) -> list[Any]:
    flat: list[Any] = []
    for ref in refs:
        flat += (ref.job_id, ref.token)
    return flat


def _lease(flat: list[Any], i: int, token: int, worker: str, now_ms: int, expires_ms: int) -> Lease:
    job_id, record, enqueued, level, extras = flat[i : i + 5]
    attempts = preemptions = 0
    checkpoint = progress = error = None
    if extras is not None:  # a job that failed, was preempted, checkpointed or reported progress before
        # error last: it is free text, while JSON never holds a raw unit separator
        counts, checkpoint_text, progress_text, error_text = extras.split("\x1f", 3)
        attempts, preemptions = decode_counts(job_id, counts)
        checkpoint = decode_stored(job_id, "checkpoint", checkpoint_text or None)
        progress = decode_stored(job_id, "progress", progress_text or None)
        error = error_text or None
    job = Job.from_record(
        job_id,
        record,
        level=int(level),
        attempts=attempts,
        preemptions=preemptions,
        checkpoint=checkpoint,
        progress=progress,
        error=error,
        enqueued_ms=int(float(enqueued)),
        state=JobState.RUNNING,
        lease=LeaseInfo(token=token, worker=worker, leased_ms=now_ms, expires_ms=expires_ms),
    )
    return Lease(job=job, token=token, leased_ms=now_ms, expires_ms=expires_ms)
