"""Key layout of the Redis store, in one place.

Every key of a namespace starts with `ebbflow:{<namespace>}:`; the braces are a hash tag, so on a Redis
Cluster a namespace lives in one slot and one Lua script may touch all of its keys.

    jobs            hash   id -> record (JSON, written once at submit, never rewritten)
    cnt             hash   id -> "attempts:preemptions" (absent: 0:0)
    err             hash   id -> last error
    ckpt            hash   id -> checkpoint (JSON)
    q:<L>:<tenant>  zset   pending job ids of a tenant at level L, scored by enqueue time (FIFO)
    rr:<L>          list   tenants with pending jobs at level L, in turn order (round robin)
    age:<L>         zset   pending ids at level L by enqueue time (aging, oldest wait)
    dl:<L>          zset   pending ids at level L by deadline
    depth           hash   "<L>|<type>" -> pending count
    lease           hash   id -> "token|leased_ms|L|enqueued|type|tenant|worker" while running
    leases          zset   running ids by lease expiry
    inflight        hash   "<L>|<type>" -> running count
    fence           string last fencing token granted
    delayed         zset   ids waiting for a retry, by retry time
    where           hash   id -> "L|enqueued" for delayed and dead jobs (where they go back to)
    dlq             zset   dead ids by time of death
    done            hash   id -> "finished|L|enqueued|leased" for finished jobs still kept
    donelog         list   finished ids, oldest first (trimmed to the retention)
    idem            hash   idempotency key -> id of the active job holding it
    idk             hash   id -> its idempotency key
    once:<key>      string id, with a TTL: a key held after its job ended (cron ticks)
    demoted         hash   "<L>|<tenant>" -> "to_level|until_ms"
    moves           list   JSON move entries, newest first (capped)
    h:<minute>      hash   history and usage of one minute (fields in scheduler/lua/common.lua)
    hmins           zset   minutes that have a history hash
"""

from __future__ import annotations

import re

NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def prefix(namespace: str) -> str:
    if not NAMESPACE.match(namespace):
        raise ValueError(f"namespace {namespace!r} must match {NAMESPACE.pattern}")
    return f"ebbflow:{{{namespace}}}:"


class Keys:
    def __init__(self, namespace: str) -> None:
        self.prefix = prefix(namespace)
        p = self.prefix
        self.jobs, self.cnt, self.err, self.ckpt = p + "jobs", p + "cnt", p + "err", p + "ckpt"
        self.depth, self.inflight, self.lease, self.leases = p + "depth", p + "inflight", p + "lease", p + "leases"
        self.delayed, self.where, self.dlq, self.done = p + "delayed", p + "where", p + "dlq", p + "done"
        self.demoted, self.moves, self.hmins = p + "demoted", p + "moves", p + "hmins"

    def queue(self, level: int, tenant: str) -> str:
        return f"{self.prefix}q:{level}:{tenant}"

    def age(self, level: int) -> str:
        return f"{self.prefix}age:{level}"

    def deadlines(self, level: int) -> str:
        return f"{self.prefix}dl:{level}"

    def history(self, minute: int) -> str:
        return f"{self.prefix}h:{minute}"
