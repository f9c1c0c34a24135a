"""Damage done to a live store behind its back, as a hand, a bug or another version could: keys deleted, fields
deleted or overwritten with garbage, index entries that point at no job or at the wrong one, counters set to
garbage; on SQLite, columns set to NULL or garbage and rows deleted from one table but not another.

Each `damage(rng)` does one such thing, picked at random from what is stored now, and says what it did and
which job it hit directly (docs/store-damage.md; used by bench/store_damage.py and the contract test
tests/contracts/test_store_damage.py).
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
from dataclasses import dataclass
from typing import Any, Protocol

from scheduler.redis_keys import Keys

# Values written over a field: not what the store writes, but some look almost right.
GARBAGE: tuple[Any, ...] = (
    "",
    "garbage",
    "\x00\xff\x17",
    "-7",
    "P|x|y|z",
    "R|1|2",
    "R|abc|1|1|1|noop|t|w",
    "W|1|0|notatime",
    "X|",
    "D|1",
    "Z|1|2|3",
    '{"id":"nope"',
    "[1, 2]",
    "1:x",
    "99999999999999999999999999",
)
REDIS_GARBAGE_STATES = ("P|9|0|noop", "W|1|0|0", "D|1|0|0|0", "X|2|0|0")  # valid in form, wrong in fact
SQLITE_GARBAGE: tuple[Any, ...] = ("garbage", "", -1, 3.5, "pending", "running", "zzz", b"\x00\x01")


@dataclass(frozen=True)
class Damage:
    """One thing done to a store. `job_id`: the job it hit directly, if one; `lost_state`: its state or lease
    expiry was changed, so the store may lose track of who holds it; `lost_record`: its record itself was
    deleted, so it may vanish. `all_lost`: every job's record went (the Redis jobs hash was deleted)."""

    what: str
    job_id: str | None = None
    lost_state: bool = False
    lost_record: bool = False
    all_lost: bool = False


class Damager(Protocol):
    def damage(self, rng: random.Random) -> Damage: ...


class RedisDamager:
    def __init__(self, client: Any, namespace: str, wipe: bool = True) -> None:
        """wipe=False never deletes the whole jobs hash (after which every job is gone at once)."""
        self.client, self.keys, self.wipe = client, Keys(namespace), wipe

    def damage(self, rng: random.Random) -> Damage:
        kinds = (
            (self._del_key, 14),
            (self._del_jobs, 0.2 if self.wipe else 0),
            (self._hdel_job_field, 20),
            (self._garble_job_field, 20),
            (self._garble_other_hash, 10),
            (self._ghost_member, 12),
            (self._misplaced_member, 10),
            (self._junk_in_list, 5),
            (self._garble_counter, 8),
        )
        act = rng.choices([kind for kind, _ in kinds], weights=[weight for _, weight in kinds])[0]
        return act(rng)

    def _names(self, kind: str | None = None) -> list[str]:
        names = [_text(k) for k in self.client.scan_iter(match=self.keys.prefix + "*", count=1000)]
        if kind is not None:
            pipe = self.client.pipeline(transaction=False)
            for name in names:
                pipe.type(name)
            names = [name for name, found in zip(names, pipe.execute(), strict=True) if _text(found) == kind]
        return sorted(names)

    def _job_field(self, rng: random.Random) -> str | None:
        fields = self.client.hrandfield(self.keys.jobs, 20)
        return _text(rng.choice(fields)) if fields else None

    def _del_key(self, rng: random.Random) -> Damage:
        names = [name for name in self._names() if name != self.keys.jobs]
        if not names:
            return Damage("nothing to delete")
        name = rng.choice(names)
        self.client.delete(name)
        return Damage(f"DEL {name}")

    def _del_jobs(self, rng: random.Random) -> Damage:
        self.client.delete(self.keys.jobs)
        return Damage("DEL jobs", all_lost=True)

    def _hdel_job_field(self, rng: random.Random) -> Damage:
        field = self._job_field(rng)
        if field is None:
            return Damage("no job field")
        self.client.hdel(self.keys.jobs, field)
        job_id, _, suffix = field.partition(":")
        return Damage(f"HDEL jobs {field}", job_id, lost_state=suffix == "s", lost_record=suffix == "")

    def _garble_job_field(self, rng: random.Random) -> Damage:
        field = self._job_field(rng)
        if field is None:
            return Damage("no job field")
        job_id, _, suffix = field.partition(":")
        value = rng.choice(GARBAGE + (REDIS_GARBAGE_STATES if suffix == "s" else ()))
        self.client.hset(self.keys.jobs, field, value)
        return Damage(f"HSET jobs {field} {value!r}", job_id, lost_state=suffix == "s")

    def _garble_other_hash(self, rng: random.Random) -> Damage:
        names = [name for name in self._names("hash") if name != self.keys.jobs]
        if not names:
            return Damage("no other hash")
        name = rng.choice(names)
        fields = [_text(f) for f in self.client.hkeys(name)]
        field = rng.choice(fields) if fields and rng.random() < 0.8 else rng.choice(["junk", "1|noop", "u|1|t"])
        value = rng.choice(GARBAGE)
        self.client.hset(name, field, value)
        return Damage(f"HSET {name} {field} {value!r}")

    def _index(self, rng: random.Random) -> str:
        zsets = self._names("zset")
        fixed = [self.keys.leases, self.keys.delayed, self.keys.dlq, self.keys.prefix + "turns"]
        return rng.choice(zsets + fixed + [self.keys.queue(rng.randrange(3), "a"), self.keys.age(1)])

    def _ghost_member(self, rng: random.Random) -> Damage:
        index = self._index(rng)
        member = (
            f"{rng.randrange(3)}|ghost"
            if index.endswith("turns")
            else rng.choice(["ghost" + str(rng.random()), "junk", ""])
        )
        score = rng.choice([0, 1_700_000_000_000, 2**47, rng.randrange(10**13)])
        self.client.zadd(index, {member: score})
        return Damage(f"ZADD {index} {score} {member!r}")

    def _misplaced_member(self, rng: random.Random) -> Damage:
        field = self._job_field(rng)
        if field is None:
            return Damage("no job to misplace")
        job_id = field.partition(":")[0]
        index = self._index(rng)
        score = rng.choice([0, 1_700_000_000_000, rng.randrange(10**13)])
        self.client.zadd(index, {job_id: score})
        # a new score in `leases` moves the job's lease expiry: the store cannot tell it from a heartbeat
        return Damage(f"ZADD {index} {score} {job_id}", job_id, lost_state=index == self.keys.leases)

    def _junk_in_list(self, rng: random.Random) -> Damage:
        name = rng.choice([self.keys.prefix + "donelog", self.keys.moves])
        value = rng.choice(GARBAGE)
        self.client.lpush(name, value)
        return Damage(f"LPUSH {name} {value!r}")

    def _garble_counter(self, rng: random.Random) -> Damage:
        name = self.keys.prefix + rng.choice(["fence", "turn", "audit", "dlqdropped", "demotedscan"])
        value = rng.choice(GARBAGE)
        self.client.set(name, value)
        return Damage(f"SET {name} {value!r}")


_NULLABLE: tuple[str, ...] = ("key", "deadline_ms", "ready_ms", "checkpoint", "progress", "error", "token")
_NULLABLE += ("worker", "leased_ms", "expires_ms", "finished_ms", "done_seq")
_GARBLED: tuple[str, ...] = ("state", "level", "attempts", "preemptions", "enqueued_ms", "expires_ms", "ready_ms")
_GARBLED += ("token", "leased_ms", "max_attempts", "submitted_level", "record", "checkpoint", "progress", "deadline_ms")
_HOLDS_THE_LEASE = ("state", "expires_ms")  # changing these can hand a running job to someone else


class SQLiteDamager:
    def __init__(self, path: str) -> None:
        self.path = path

    def damage(self, rng: random.Random) -> Damage:
        with contextlib.closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            kinds = (
                (self._null_column, 15),
                (self._garble_column, 30),
                (self._delete_job, 5),
                (self._index_row, 30),
                (self._counter, 12),
                (self._demotion, 8),
            )
            act = rng.choices([kind for kind, _ in kinds], weights=[weight for _, weight in kinds])[0]
            return act(db, rng)

    @staticmethod
    def _job_id(db: sqlite3.Connection, rng: random.Random) -> str | None:
        count = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        if not count:
            return None
        return str(db.execute("SELECT id FROM jobs LIMIT 1 OFFSET ?", (rng.randrange(count),)).fetchone()[0])

    def _null_column(self, db: sqlite3.Connection, rng: random.Random) -> Damage:
        job_id, column = self._job_id(db, rng), rng.choice(_NULLABLE)
        if job_id is None:
            return Damage("no job")
        db.execute(f"UPDATE jobs SET {column} = NULL WHERE id = ?", (job_id,))
        return Damage(f"UPDATE jobs SET {column} = NULL ({job_id})", job_id, lost_state=column in _HOLDS_THE_LEASE)

    def _garble_column(self, db: sqlite3.Connection, rng: random.Random) -> Damage:
        job_id, column, value = self._job_id(db, rng), rng.choice(_GARBLED), rng.choice(SQLITE_GARBAGE)
        if job_id is None:
            return Damage("no job")
        db.execute(f"UPDATE jobs SET {column} = ? WHERE id = ?", (value, job_id))
        return Damage(f"UPDATE jobs SET {column} = {value!r} ({job_id})", job_id, column in _HOLDS_THE_LEASE)

    def _delete_job(self, db: sqlite3.Connection, rng: random.Random) -> Damage:
        job_id = self._job_id(db, rng)
        if job_id is None:
            return Damage("no job")
        db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        return Damage(f"DELETE FROM jobs ({job_id})", job_id, lost_state=True, lost_record=True)

    def _index_row(self, db: sqlite3.Connection, rng: random.Random) -> Damage:
        table = rng.choice(["rr", "rr", "tick_keys"])
        choice = rng.random()
        if choice < 0.4:  # both tables are WITHOUT ROWID: a row is named by its key
            key = "level, tenant" if table == "rr" else "key"
            db.execute(f"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} ORDER BY random() LIMIT 1)")
            return Damage(f"DELETE a row of {table}")
        if choice < 0.7 and table == "rr":
            column, value = rng.choice(["turn", "level"]), rng.choice(SQLITE_GARBAGE)
            with contextlib.suppress(sqlite3.IntegrityError):  # NOT NULL, or the same key twice
                db.execute(f"UPDATE rr SET {column} = ? WHERE tenant = (SELECT tenant FROM rr LIMIT 1)", (value,))
            return Damage(f"UPDATE rr SET {column} = {value!r}")
        if table == "rr":
            db.execute("INSERT OR IGNORE INTO rr (level, tenant, turn) VALUES (?, 'ghost', ?)", (rng.randrange(3), 0))
            return Damage("INSERT a turn for a tenant with no jobs")
        value = rng.choice(SQLITE_GARBAGE)
        with contextlib.suppress(sqlite3.IntegrityError):
            db.execute(
                "UPDATE tick_keys SET held_until_ms = ? WHERE key IN (SELECT key FROM tick_keys LIMIT 1)", (value,)
            )
        return Damage(f"UPDATE tick_keys SET held_until_ms = {value!r}")

    def _counter(self, db: sqlite3.Connection, rng: random.Random) -> Damage:
        name = rng.choice(["token", "turn", "done", "dead_dropped"])
        if rng.random() < 0.4:
            db.execute("DELETE FROM counters WHERE name = ?", (name,))
            return Damage(f"DELETE counter {name}")
        value = rng.choice(SQLITE_GARBAGE)
        db.execute("UPDATE counters SET value = ? WHERE name = ?", (value, name))
        return Damage(f"UPDATE counter {name} = {value!r}")

    def _demotion(self, db: sqlite3.Connection, rng: random.Random) -> Damage:
        tenant, to_level = rng.choice("abc"), rng.choice(SQLITE_GARBAGE)
        db.execute(
            "INSERT OR REPLACE INTO demotions (tenant, level, to_level, until_ms, reason) VALUES (?, ?, ?, ?, 'x')",
            (tenant, rng.randrange(3), to_level, 10**15),
        )
        return Damage(f"INSERT a demotion of {tenant} to {to_level!r}")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
