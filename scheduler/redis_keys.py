"""Key layout of the Redis store, in one place.

Every key of a namespace starts with `ebbflow:{<namespace>}:`; the braces are a hash tag, so on a Redis
Cluster a namespace lives in one slot and one Lua script may touch all of its keys.

    jobs            hash   everything about one job, in fields named after its id:
                             <id>    the record (JSON, written once at submit, never rewritten)
                             <id>:s  its state: P|L|enqueued|type (pending at level L), R|token|leased|L|enqueued|
                                     type|tenant|worker (running), W|L|enqueued|retry_at (delayed: a failed
                                     run's backoff, or a job given back until then), X|L|enqueued|died (dead),
                                     D|L|enqueued|finished|leased (done)
                             <id>:c  "attempts:preemptions" (absent: 0:0)
                             <id>:k  checkpoint (JSON)      <id>:e  last error      <id>:i  its stored idempotency key
                             <id>:g  last progress report (JSON; kept after the job ends, until it is forgotten)
                           (forgetting a finished job deletes all of its fields but :i, which ack already did)
    q:<L>:<tenant>  zset   pending job ids of a tenant at level L, scored by enqueue time (FIFO)
    turns           zset   "L|tenant" for every tenant with pending jobs, scored L * 2^48 + turn number:
                           the first member is the next tenant of the highest non-empty level
    turn            string last turn number given out
    age:<L>         zset   pending ids at level L by enqueue time (aging, oldest wait)
    dl:<L>          zset   pending ids at level L by deadline
    depth           hash   "<L>|<type>" -> pending count
    leases          zset   running ids by lease expiry (stats() counts running jobs from it: they are few)
    fence           string last fencing token granted
    delayed         zset   ids waiting for a retry, by retry time
    dlq             zset   dead ids by time of death (pruned by age and count: prune_dead.lua)
    dlqdropped      string dead letters forgotten by that pruning, ever (a counter for the metrics)
    donelog         list   finished ids, oldest first (trimmed to the retention)
    idem            hash   "<tenant>|<key>" (an idempotency key of one tenant) -> id of the active job holding it
    once            hash   "<tenant>|<key>" -> "id|until_ms|tenant": a key held after its job ended (cron ticks)
    oncez           zset   those keys by until_ms (for forgetting them)
                           (entries written before keys were per tenant are named by the bare key, and a `once`
                           value then reads "id|until_ms": scheduler/lua/submit.lua says how they are honoured)
    demoted         hash   "<L>|<tenant>" -> "to_level|until_ms" (maintain forgets ended ones: prune_expired.lua)
    demotedscan     string where that pruning's HSCAN goes on next time
    demoting        hash   "<L>|<tenant>" -> "to_level|until_ms|moved so far|reason": a demotion whose jobs are
                           still being moved, a batch per script call (demote.lua); gone when the move finishes
    moves           list   JSON move entries, newest first (capped)
    h:<minute>      hash   history and usage of one minute: w|type|L|bucket (waits), r|type|L|bucket
                           (run times), rs|type|L (run ms total), u|L|tenant (run ms per tenant)
    hmins           zset   minutes that have a history hash (maintain forgets expired ones: prune_expired.lua)
    a:<hour>        hash   arrivals of one epoch hour: s|type|L -> jobs created at level L, w|type|L -> the sum of
                           their estimated work (ms); written by submit, in the same script as the jobs
    ahours          zset   hours that have an arrivals hash, scored by hour: submits forget the expired ones
                           (scheduler.store.ARRIVALS_RETENTION_MS), a few at a time
    audit           string where the damage audit's HSCAN of `jobs` goes on next time (reap.lua; gone at the
                           end of a sweep): every job's state is checked against its indexes (docs/store-damage.md)
"""

from __future__ import annotations

import re

NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def prefix(namespace: str) -> str:
    if not NAMESPACE.fullmatch(namespace):
        raise ValueError(f"namespace {namespace!r} must match {NAMESPACE.pattern}")
    return f"ebbflow:{{{namespace}}}:"


class Keys:
    def __init__(self, namespace: str) -> None:
        self.prefix = prefix(namespace)
        p = self.prefix
        self.jobs, self.depth, self.leases = p + "jobs", p + "depth", p + "leases"
        self.delayed, self.dlq, self.demoted, self.moves, self.hmins = (
            p + "delayed",
            p + "dlq",
            p + "demoted",
            p + "moves",
            p + "hmins",
        )
        self.ahours = p + "ahours"
        self.demoting, self.dlq_dropped = p + "demoting", p + "dlqdropped"

    def queue(self, level: int, tenant: str) -> str:
        return f"{self.prefix}q:{level}:{tenant}"

    def age(self, level: int) -> str:
        return f"{self.prefix}age:{level}"

    def deadlines(self, level: int) -> str:
        return f"{self.prefix}dl:{level}"

    def history(self, minute: int) -> str:
        return f"{self.prefix}h:{minute}"

    def arrivals(self, hour: int) -> str:
        return f"{self.prefix}a:{hour}"
