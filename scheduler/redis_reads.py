"""Read-only queries of the Redis store: job state, stats, history and what the MLFQ policy looks at.

Reads need no atomicity beyond one pipeline (MULTI), so they are plain commands, not scripts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson
import redis

from scheduler.job import Job, JobState, LeaseInfo, UnreadableRecordError, decode_stored
from scheduler.redis_keys import Keys
from scheduler.store import HOUR_MS, ArrivalBucket, Demotion, HistoryBucket, Move, QueueStats, WaitingJob


class RedisReads:
    def __init__(self, client: redis.Redis, keys: Keys, levels: int) -> None:
        # Typed Any: redis-py types replies as bytes | str, and this client was built to decode to str.
        self.client: Any = client
        self.keys, self.levels = keys, levels

    def get(self, job_id: str) -> Job | None:
        pipe = self.client.pipeline()
        pipe.hmget(self.keys.jobs, [job_id + suffix for suffix in ("", ":s", ":c", ":k", ":e", ":g")])
        pipe.zscore(self.keys.leases, job_id)
        (record, state, counts, checkpoint, error, progress), expires = pipe.execute()
        if state is None:
            return None
        attempts, preemptions = (int(v) for v in (counts or "0:0").split(":"))
        known = {"attempts": attempts, "preemptions": preemptions, "error": error} | _state_fields(state, expires)
        try:
            return Job.from_record(
                job_id,
                record,
                checkpoint=decode_stored(job_id, "checkpoint", checkpoint),
                progress=decode_stored(job_id, "progress", progress),
                **known,
            )
        except UnreadableRecordError as problem:
            return Job.unreadable(job_id, problem, **known)

    def demotions(self, now_ms: int) -> list[Demotion]:
        out = []
        for field, value in self.client.hgetall(self.keys.demoted).items():
            level, tenant = field.split("|", 1)
            to_level, until = value.split("|")
            if int(until) > now_ms:
                out.append(Demotion(tenant=tenant, level=int(level), to_level=int(to_level), until_ms=int(until)))
        return sorted(out, key=lambda d: (d.level, d.tenant))

    def waiting(self, level: int, enqueued_before_ms: int, limit: int) -> list[WaitingJob]:
        found = self.client.zrangebyscore(
            self.keys.age(level), "-inf", f"({enqueued_before_ms}", start=0, num=limit, withscores=True
        )
        return self._waiting_jobs(level, [job_id for job_id, _ in found], [int(score) for _, score in found])

    def due(self, level: int, deadline_before_ms: int, limit: int) -> list[WaitingJob]:
        found = self.client.zrangebyscore(
            self.keys.deadlines(level), "-inf", f"({deadline_before_ms}", start=0, num=limit
        )
        if not found:
            return []
        scores = self.client.zmscore(self.keys.age(level), found)
        return self._waiting_jobs(level, found, [int(s) if s is not None else 0 for s in scores])

    def _waiting_jobs(self, level: int, ids: Sequence[str], enqueued: Sequence[int]) -> list[WaitingJob]:
        if not ids:
            return []
        out = []
        for job_id, record, enq in zip(ids, self.client.hmget(self.keys.jobs, ids), enqueued, strict=True):
            try:
                head = orjson.loads(record)  # None (no record) raises TypeError
                waiting = WaitingJob(job_id, head["type"], head["tenant"], level, enq, head["deadline"], head["level"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue  # unreadable: not the policy's to move; the next lease that reaches it dead-letters it
            out.append(waiting)
        return out

    def _minutes(self, since_ms: int) -> list[tuple[int, dict[str, str]]]:
        minutes = [int(m) for m in self.client.zrangebyscore(self.keys.hmins, since_ms // 60_000, "+inf")]
        pipe = self.client.pipeline()
        for minute in minutes:
            pipe.hgetall(self.keys.history(minute))
        return list(zip(minutes, pipe.execute(), strict=True))

    def usage(self, since_ms: int) -> dict[tuple[int, str], int]:
        out: dict[tuple[int, str], int] = {}
        for _minute, fields in self._minutes(since_ms):
            for field, value in fields.items():
                if field.startswith("u|"):
                    _, level, tenant = field.split("|", 2)
                    out[(int(level), tenant)] = out.get((int(level), tenant), 0) + int(value)
        return out

    def history(self, since_ms: int) -> list[HistoryBucket]:
        buckets: dict[tuple[int, str, int], HistoryBucket] = {}
        for minute, fields in self._minutes(since_ms):
            for field, value in fields.items():
                kind, _, rest = field.partition("|")
                if kind == "u":
                    continue
                parts = rest.split("|")
                key = (minute, parts[0], int(parts[1]))
                bucket = buckets.setdefault(key, HistoryBucket(minute=minute, type=parts[0], level=int(parts[1])))
                _add(bucket, kind, parts, int(value))
        return list(buckets.values())

    def arrivals(self, since_ms: int) -> list[ArrivalBucket]:
        hours = [int(h) for h in self.client.zrangebyscore(self.keys.ahours, since_ms // HOUR_MS, "+inf")]
        pipe = self.client.pipeline()
        for hour in hours:
            pipe.hgetall(self.keys.arrivals(hour))
        hashes = zip(hours, pipe.execute(), strict=True)
        buckets = [bucket for hour, fields in hashes for bucket in _arrivals_of(hour, fields)]
        return sorted(buckets, key=lambda b: (b.hour, b.type, b.level))

    def moves(self, limit: int = 100) -> list[Move]:
        out = []
        for entry in self.client.lrange(self.keys.moves, 0, limit - 1):
            m = json.loads(entry)
            out.append(Move(m["at"], m["id"], m["tenant"], m["from"], m["to"], m["reason"], m["count"]))
        return out

    def stats(self) -> QueueStats:
        pipe = self.client.pipeline()
        pipe.hgetall(self.keys.depth)
        pipe.zcard(self.keys.delayed)
        pipe.zcard(self.keys.dlq)
        for level in range(self.levels):
            pipe.zrange(self.keys.age(level), 0, 0, withscores=True)
        depth, delayed, dead, *oldest = pipe.execute()
        return QueueStats(
            pending=_counts(depth),
            running=self._running(),
            delayed=delayed,
            dead=dead,
            oldest_enqueued_ms={level: int(first[0][1]) for level, first in enumerate(oldest) if first},
        )

    def _running(self) -> dict[tuple[int, str], int]:
        """Running jobs per (level, type), from the lease index: as many as there are worker slots, so a scan
        here is cheaper than a counter kept in step on every lease and every finish."""
        counts: dict[tuple[int, str], int] = {}
        ids = self.client.zrange(self.keys.leases, 0, -1)
        for start in range(0, len(ids), 1000):
            states = self.client.hmget(self.keys.jobs, [job_id + ":s" for job_id in ids[start : start + 1000]])
            for state in states:
                if state is not None and state.startswith("R|"):
                    _token, _leased, level, _enq, job_type = state[2:].split("|", 5)[:5]
                    counts[(int(level), job_type)] = counts.get((int(level), job_type), 0) + 1
        return counts

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[Job]:
        ids = self.client.zrevrange(self.keys.dlq, offset, offset + limit - 1)
        return [job for job in (self.get(job_id) for job_id in ids) if job is not None]


def _counts(fields: dict[str, str]) -> dict[tuple[int, str], int]:
    out = {}
    for field, value in fields.items():
        if int(value) != 0:
            level, job_type = field.split("|", 1)
            out[(int(level), job_type)] = int(value)
    return out


def _arrivals_of(hour: int, fields: dict[str, str]) -> list[ArrivalBucket]:
    """The buckets of one hour's arrivals hash (fields s|type|L and w|type|L; a type may hold a "|")."""
    counts: dict[tuple[str, int], dict[str, int]] = {}
    for field, value in fields.items():
        kind, _, type_level = field.partition("|")
        job_type, _, level = type_level.rpartition("|")
        counts.setdefault((job_type, int(level)), {})[kind] = int(value)
    return [ArrivalBucket(hour, t, level, c.get("s", 0), c.get("w", 0)) for (t, level), c in counts.items()]


def _add(bucket: HistoryBucket, kind: str, parts: list[str], value: int) -> None:
    # Leased and finished counts are the histograms' totals: storing them too would cost a command per call.
    if kind == "rs":
        bucket.run_ms_total += value
    elif kind == "w":
        bucket.wait_hist[int(parts[2])] = bucket.wait_hist.get(int(parts[2]), 0) + value
        bucket.leased += value
    elif kind == "r":
        bucket.run_hist[int(parts[2])] = bucket.run_hist.get(int(parts[2]), 0) + value
        bucket.finished += value


def _state_fields(state: str, expires: float | None) -> dict[str, Any]:
    """Job fields from the state string (layout in scheduler.redis_keys)."""
    kind, rest = state[0], state[2:]
    if kind == "R":
        token, leased, level, enqueued, _type, _tenant, worker = rest.split("|", 6)
        lease = LeaseInfo(int(token), worker, int(leased), int(expires or 0))
        return {"state": JobState.RUNNING, "level": int(level), "enqueued_ms": int(float(enqueued)), "lease": lease}
    level, enqueued, *more = rest.split("|")
    fields: dict[str, Any] = {"level": int(level), "enqueued_ms": int(float(enqueued))}
    if kind == "P":
        return fields | {"state": JobState.PENDING}
    if kind == "W":
        return fields | {"state": JobState.DELAYED}
    if kind == "X":
        return fields | {"state": JobState.DEAD, "finished_ms": int(more[0])}
    return fields | {"state": JobState.DONE, "finished_ms": int(more[0])}
