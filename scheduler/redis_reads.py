"""Read-only queries of the Redis store: job state, stats, history and what the MLFQ policy looks at.

Reads need no atomicity beyond one pipeline (MULTI), so they are plain commands, not scripts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson
import redis

from scheduler.job import REASON_LOST, Job, JobState, LeaseInfo, UnreadableRecordError, decode_stored
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
        try:
            attempts, preemptions = decode_counts(job_id, counts)
        except UnreadableRecordError:
            attempts = preemptions = 0  # shown as none; the lease that reaches the job dead-letters it
        known = {"attempts": attempts, "preemptions": preemptions, "error": error}
        try:
            known |= _state_fields(state, expires)
            if known["state"] == JobState.DEAD and not error:
                known["error"] = REASON_LOST
        except (ValueError, IndexError):
            # a garbled state (damage): the next audit (maintenance) or lease that meets it dead-letters it
            problem = UnreadableRecordError(job_id, "state", f"it reads {state[:80]!r}")
            return Job.unreadable(job_id, problem, **(known | {"state": JobState.DEAD, "error": str(problem)}))
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
            level, _, tenant = field.partition("|")
            to_level, _, until = value.partition("|")
            if not (level.isdigit() and to_level.isdigit() and until.isdigit()):
                continue  # garbled (damage): no reader can use it, and maintenance forgets it
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
        found = self.client.zrangebyscore(self.keys.hmins, since_ms // 60_000, "+inf")
        minutes = [int(m) for m in found if m.isdigit()]  # a member that names no minute (damage) is skipped
        pipe = self.client.pipeline()
        for minute in minutes:
            pipe.hgetall(self.keys.history(minute))
        return list(zip(minutes, pipe.execute(), strict=True))

    def usage(self, since_ms: int) -> dict[tuple[int, str], int]:
        out: dict[tuple[int, str], int] = {}
        for _minute, fields in self._minutes(since_ms):
            for field, value in fields.items():
                parts = field.split("|", 2)
                # a level the store does not have, or a garbled field (damage), is no one's usage
                if parts[0] == "u" and len(parts) == 3 and _is_level(parts[1], self.levels) and _is_int(value):
                    level, tenant = int(parts[1]), parts[2]
                    out[(level, tenant)] = out.get((level, tenant), 0) + int(value)
        return out

    def history(self, since_ms: int) -> list[HistoryBucket]:
        buckets: dict[tuple[int, str, int], HistoryBucket] = {}
        for minute, fields in self._minutes(since_ms):
            for field, value in fields.items():
                kind, _, rest = field.partition("|")
                parts = rest.split("|")
                if kind not in _HISTORY_KINDS or not _history_field(kind, parts) or not _is_int(value):
                    continue  # usage (read by usage()), or a field or value garbled by damage
                key = (minute, parts[0], int(parts[1]))
                bucket = buckets.setdefault(key, HistoryBucket(minute=minute, type=parts[0], level=int(parts[1])))
                _add(bucket, kind, parts, int(value))
        return list(buckets.values())

    def arrivals(self, since_ms: int) -> list[ArrivalBucket]:
        found = self.client.zrangebyscore(self.keys.ahours, since_ms // HOUR_MS, "+inf")
        hours = [int(h) for h in found if h.isdigit()]  # a member that names no hour (damage) is skipped
        pipe = self.client.pipeline()
        for hour in hours:
            pipe.hgetall(self.keys.arrivals(hour))
        hashes = zip(hours, pipe.execute(), strict=True)
        buckets = [bucket for hour, fields in hashes for bucket in _arrivals_of(hour, fields)]
        return sorted(buckets, key=lambda b: (b.hour, b.type, b.level))

    def moves(self, limit: int = 100) -> list[Move]:
        out = []
        for entry in self.client.lrange(self.keys.moves, 0, limit - 1):
            try:
                m = json.loads(entry)
                out.append(Move(m["at"], m["id"], m["tenant"], m["from"], m["to"], m["reason"], m["count"]))
            except (ValueError, KeyError, TypeError):
                continue  # an entry that is not one the scripts write (damage): the log is only history
        return out

    def stats(self) -> QueueStats:
        pipe = self.client.pipeline()
        pipe.hgetall(self.keys.depth)
        pipe.zcard(self.keys.delayed)
        pipe.zcard(self.keys.dlq)
        pipe.get(self.keys.dlq_dropped)
        for level in range(self.levels):
            pipe.zrange(self.keys.age(level), 0, 0, withscores=True)
        depth, delayed, dead, dropped, *oldest = pipe.execute()
        return QueueStats(
            pending=_counts(depth),
            running=self._running(),
            delayed=delayed,
            dead=dead,
            oldest_enqueued_ms={level: int(first[0][1]) for level, first in enumerate(oldest) if first},
            dead_dropped=int(dropped) if _is_int(dropped) else 0,
        )

    def _running(self) -> dict[tuple[int, str], int]:
        """Running jobs per (level, type), from the lease index: as many as there are worker slots, so a scan
        here is cheaper than a counter kept in step on every lease and every finish."""
        counts: dict[tuple[int, str], int] = {}
        ids = self.client.zrange(self.keys.leases, 0, -1)
        for start in range(0, len(ids), 1000):
            states = self.client.hmget(self.keys.jobs, [job_id + ":s" for job_id in ids[start : start + 1000]])
            for state in states:
                parts = state.split("|", 6) if state is not None else []
                # a stale entry, or a state garbled by damage, is not counted (the reap deals with both)
                if len(parts) == 7 and parts[0] == "R" and parts[3].isdigit():
                    key = (int(parts[3]), parts[5])
                    counts[key] = counts.get(key, 0) + 1
        return counts

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[Job]:
        ids = self.client.zrevrange(self.keys.dlq, offset, offset + limit - 1)
        # an entry whose job is gone or is not dead (damage) is not shown; retry_dead drops such entries
        return [job for job in (self.get(job_id) for job_id in ids) if job is not None and job.state == JobState.DEAD]


def _counts(fields: dict[str, str]) -> dict[tuple[int, str], int]:
    out = {}
    for field, value in fields.items():
        level, _, job_type = field.partition("|")
        # a garbled count or field (damage) is skipped; the scripts start a garbled count again from 0
        if level.isdigit() and _is_int(value) and int(value) > 0:
            out[(int(level), job_type)] = int(value)
    return out


def _is_level(text: str, levels: int) -> bool:
    return text.isdigit() and int(text) < levels


def _is_int(value: str | None) -> bool:
    return value is not None and value.lstrip("-").isdigit()


_HISTORY_KINDS = ("w", "r", "rs")


def _history_field(kind: str, parts: list[str]) -> bool:
    """Whether the parts after the kind are a history field's: type|L (rs), type|L|bucket (w, r)."""
    digits = parts[1:] if kind != "rs" else parts[1:2]
    return len(parts) == (2 if kind == "rs" else 3) and all(part.isdigit() for part in digits)


def decode_counts(job_id: str, counts: str | None) -> tuple[int, int]:
    """A job's stored "attempts:preemptions" (absent: 0:0); UnreadableRecordError when garbled."""
    attempts, _, preemptions = (counts or "0:0").partition(":")
    if not (attempts.isdigit() and preemptions.isdigit()):
        raise UnreadableRecordError(job_id, "counts", f"not attempts:preemptions: {counts[:40]!r}")  # type: ignore[index]
    return int(attempts), int(preemptions)


def _arrivals_of(hour: int, fields: dict[str, str]) -> list[ArrivalBucket]:
    """The buckets of one hour's arrivals hash (fields s|type|L and w|type|L; a type may hold a "|")."""
    counts: dict[tuple[str, int], dict[str, int]] = {}
    for field, value in fields.items():
        kind, _, type_level = field.partition("|")
        job_type, _, level = type_level.rpartition("|")
        if kind in ("s", "w") and level.isdigit() and _is_int(value):  # else garbled by damage: skipped
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
    kind, rest = state[:1], state[2:]
    if kind not in ("P", "R", "W", "X", "D") or state[1:2] != "|":
        raise ValueError(f"not a state: {state[:80]!r}")
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
