"""JobStore contract: serve order.

Lower levels first; inside a level tenants take turns (least recently served first, newcomers at the end);
each tenant FIFO by enqueue time, then id; a batch of n equals n single leases; `levels` filters.
"""

from __future__ import annotations

from scheduler.store import JobStore
from tests.stores import T0, lease_ids, new_job


def names_of(order: list[str], named: dict[str, str]) -> list[str]:
    by_id = {job_id: name for name, job_id in named.items()}
    return [by_id.get(job_id, job_id) for job_id in order]


def submit_named(store: JobStore, now_ms: int, **specs: tuple[str, int]) -> dict[str, str]:
    """submit_named(store, now, a1=("a", 2), ...) -> {"a1": id}; jobs go in one batch, in argument order."""
    jobs = {name: new_job(tenant=tenant, level=level) for name, (tenant, level) in specs.items()}
    store.submit(list(jobs.values()), now_ms=now_ms)
    return {name: job.id for name, job in jobs.items()}


def drain_singly(store: JobStore, now_ms: int, levels: list[int] | None = None) -> list[str]:
    order: list[str] = []
    while ids := lease_ids(store, now_ms, n=1, levels=levels):
        order += ids
    return order


def test_lower_levels_are_always_served_first(store):
    # given an old level-3 job, then jobs at levels 1, 2 and, last, 0 (all one tenant)
    named = submit_named(store, T0, l3=("a", 3))
    named |= submit_named(store, T0 + 1_000, l1=("a", 1), l2=("a", 2))
    named |= submit_named(store, T0 + 2_000, l0=("a", 0))
    # when leased one at a time / then strictly by level, whatever the age
    assert names_of(drain_singly(store, T0 + 3_000), named) == ["l0", "l1", "l2", "l3"]


def test_a_new_job_at_a_lower_level_overtakes_waiting_ones(store):
    # given two level-2 jobs, one of which is leased
    named = submit_named(store, T0, x1=("a", 2), x2=("b", 2))
    assert names_of(lease_ids(store, T0 + 1), named) == ["x1"]
    # when a level-1 job arrives / then it is served before the waiting level-2 job
    named |= submit_named(store, T0 + 2, y1=("c", 1))
    assert names_of(drain_singly(store, T0 + 3), named) == ["y1", "x2"]


def test_tenants_take_turns_within_a_level(store):
    # given tenant a with 3 jobs, then b with 2, then c with 1, at one level
    named = submit_named(store, T0, a1=("a", 2), a2=("a", 2), a3=("a", 2))
    named |= submit_named(store, T0 + 1, b1=("b", 2), b2=("b", 2))
    named |= submit_named(store, T0 + 2, c1=("c", 2))
    # when leased one at a time / then round robin, each tenant FIFO
    assert names_of(drain_singly(store, T0 + 10), named) == ["a1", "b1", "c1", "a2", "b2", "a3"]


def test_round_robin_is_per_level(store):
    # given tenants a and b at level 1 (a first) and at level 2 (b first)
    named = submit_named(store, T0, a1=("a", 1), a2=("a", 1))
    named |= submit_named(store, T0 + 1, b1=("b", 1), b2=("b", 1))
    named |= submit_named(store, T0 + 2, q1=("b", 2), q2=("b", 2))
    named |= submit_named(store, T0 + 3, p1=("a", 2), p2=("a", 2))
    # then each level keeps its own turn order
    assert names_of(drain_singly(store, T0 + 10), named) == ["a1", "b1", "a2", "b2", "q1", "p1", "q2", "p2"]


def test_a_tenant_that_gets_its_first_pending_job_joins_the_end_of_the_turn(store):
    # given a with 2 jobs, then b with 1; a is served once
    named = submit_named(store, T0, a1=("a", 2), a2=("a", 2))
    named |= submit_named(store, T0 + 1, b1=("b", 2))
    assert names_of(lease_ids(store, T0 + 2), named) == ["a1"]
    # when c gets a job / then c comes after a, which was served more recently than b but joined before c
    named |= submit_named(store, T0 + 3, c1=("c", 2))
    assert names_of(drain_singly(store, T0 + 4), named) == ["b1", "a2", "c1"]


def test_a_tenant_that_ran_out_rejoins_at_the_end(store):
    # given a with 1 job, b with 2, c with 1; a is served and so has none left
    named = submit_named(store, T0, a1=("a", 2))
    named |= submit_named(store, T0 + 1, b1=("b", 2), b2=("b", 2))
    named |= submit_named(store, T0 + 2, c1=("c", 2))
    assert names_of(lease_ids(store, T0 + 3), named) == ["a1"]
    # when a gets a job again / then a waits behind b and c
    named |= submit_named(store, T0 + 4, a2=("a", 2))
    assert names_of(drain_singly(store, T0 + 5), named) == ["b1", "c1", "a2", "b2"]


def test_each_tenant_is_fifo_by_enqueue_time_then_by_id(store):
    # given one tenant's jobs whose ids are minted in the reverse of their enqueue order
    late, middle, early = new_job(), new_job(), new_job()
    store.submit([early], now_ms=T0)
    store.submit([middle], now_ms=T0 + 5)
    store.submit([late], now_ms=T0 + 10)
    # and a batch (one enqueue time) submitted in the reverse of its id order
    batch = [new_job() for _ in range(4)]
    store.submit(list(reversed(batch)), now_ms=T0 + 20)
    # when leased / then by enqueue time first, then by id
    assert drain_singly(store, T0 + 30) == [early.id, middle.id, late.id] + [job.id for job in batch]


def test_a_batch_lease_equals_single_leases(store_factory):
    # given the same jobs (same ids) in two stores
    batched, single = store_factory(), store_factory()
    jobs = {
        name: new_job(tenant=tenant, level=level)
        for name, (tenant, level) in {
            "a1": ("a", 1),
            "a2": ("a", 1),
            "a3": ("a", 1),
            "b1": ("b", 1),
            "c1": ("c", 2),
            "c2": ("c", 2),
            "a4": ("a", 2),
            "b0": ("b", 0),
        }.items()
    }
    for store in (batched, single):
        for offset, names in enumerate([["a1", "a2", "a3"], ["b1"], ["c1", "c2"], ["a4"], ["b0"]]):
            store.submit([jobs[name] for name in names], now_ms=T0 + offset)
    named = {name: job.id for name, job in jobs.items()}
    # when one is drained in batches of 3, 1, 4 and 100 and the other one lease at a time
    batches = [names_of(lease_ids(batched, T0 + 10, n=n), named) for n in (3, 1, 4, 100)]
    singles = names_of(drain_singly(single, T0 + 10), named)
    # then both hand out the same sequence, a batch taking its turns exactly as single leases do
    assert singles == ["b0", "a1", "b1", "a2", "a3", "c1", "a4", "c2"]
    assert batches == [["b0", "a1", "b1"], ["a2"], ["a3", "c1", "a4", "c2"], []]


def test_a_batch_keeps_the_turn_order_for_the_next_lease(store):
    # given a and b with 3 jobs each at one level
    named = submit_named(store, T0, a1=("a", 2), a2=("a", 2), a3=("a", 2))
    named |= submit_named(store, T0 + 1, b1=("b", 2), b2=("b", 2), b3=("b", 2))
    # when a batch of 3 is leased (a, b, a) / then the next single lease is b's turn
    assert names_of(lease_ids(store, T0 + 2, n=3), named) == ["a1", "b1", "a2"]
    assert names_of(lease_ids(store, T0 + 3), named) == ["b2"]
    assert names_of(lease_ids(store, T0 + 4, n=5), named) == ["a3", "b3"]


def test_levels_filter_serves_only_the_given_levels_in_level_order(store):
    # given one job at each level
    named = submit_named(store, T0, l0=("a", 0), l1=("a", 1), l2=("a", 2), l3=("a", 3))
    # when leasing from levels [2, 1] / then level 1 first, then 2, and nothing else
    assert names_of(lease_ids(store, T0 + 1, n=10, levels=[2, 1]), named) == ["l1", "l2"]
    # then levels 0 and 3 are untouched
    assert names_of(lease_ids(store, T0 + 2, n=10, levels=[3]), named) == ["l3"]
    assert lease_ids(store, T0 + 3, n=10, levels=[1, 2, 3]) == []
    assert names_of(lease_ids(store, T0 + 4, n=10), named) == ["l0"]
