"""JobStore contract: move, demote_tenant/demotions, the move log, waiting, due, stats."""

from __future__ import annotations

from scheduler.ids import new_job_id
from scheduler.job import JobState, NewJob
from scheduler.store import Demotion, Move, QueueStats, WaitingJob
from tests.stores import T0, lease_ids, new_job, nonzero


def waiting_job(job: NewJob, level: int, enqueued_ms: int) -> WaitingJob:
    """The WaitingJob of NewJob `job`, now at `level`; submitted_level is the level it was submitted at."""
    return WaitingJob(job.id, job.type, job.tenant, level, enqueued_ms, job.deadline_ms, submitted_level=job.level)


def test_move_moves_pending_jobs_keeping_their_enqueue_time(store):
    # given two pending level-3 jobs of tenant a, one running level-3 job of tenant b
    running = new_job(tenant="b")
    store.submit([running], now_ms=T0)
    assert lease_ids(store, T0 + 1) == [running.id]
    j1, j2 = new_job(tenant="a"), new_job(tenant="a")
    store.submit([j1, j2], now_ms=T0 + 2)
    # when all of them and an unknown id are moved to level 1
    moved = store.move([j1.id, j2.id, running.id, new_job_id()], to_level=1, reason="aging", now_ms=T0 + 10)
    # then only the two pending ones moved, keeping enqueue time and submitted level
    assert moved == 2
    for job in (j1, j2):
        got = store.get(job.id)
        assert (got.state, got.level, got.submitted_level, got.enqueued_ms) == (JobState.PENDING, 1, 3, T0 + 2)
    got = store.get(running.id)
    assert (got.state, got.level) == (JobState.RUNNING, 3)
    assert nonzero(store.stats().pending) == {(1, "noop"): 2}
    # and they are served from level 1 now
    assert lease_ids(store, T0 + 11, n=5, levels=[3]) == []
    assert lease_ids(store, T0 + 12, n=5, levels=[1]) == [j1.id, j2.id]


def test_a_moved_job_keeps_its_place_ahead_of_newer_jobs(store):
    # given a tenant's old level-3 job and its newer level-1 job
    old, newer = new_job(level=3), new_job(level=1)
    store.submit([old], now_ms=T0)
    store.submit([newer], now_ms=T0 + 5)
    # when the old one moves up to level 1 / then it is served first there
    assert store.move([old.id], to_level=1, reason="aging", now_ms=T0 + 10) == 1
    assert lease_ids(store, T0 + 11, n=2) == [old.id, newer.id]


def test_moves_are_logged_newest_first_with_their_reason(store):
    # given three pending jobs
    j1, j2, j3 = (new_job(tenant="a", level=3) for _ in range(3))
    store.submit([j1, j2, j3], now_ms=T0)
    # when two move in one call, then the third in a later one
    assert store.move([j1.id, j2.id], to_level=2, reason="aging", now_ms=T0 + 10) == 2
    assert store.move([j3.id], to_level=0, reason="deadline near", now_ms=T0 + 20) == 1
    # then the log holds one entry per job, newest first
    log = store.moves()
    assert log[0] == Move(T0 + 20, j3.id, "a", 3, 0, "deadline near", 1)
    assert set(log[1:]) == {Move(T0 + 10, j.id, "a", 3, 2, "aging", 1) for j in (j1, j2)}
    assert len(log) == 3
    assert store.moves(limit=1) == [log[0]]


def test_a_move_of_nothing_pending_logs_nothing(store):
    store.submit([job := new_job()], now_ms=T0)
    lease_ids(store, T0)
    assert store.move([job.id, new_job_id()], to_level=0, reason="aging", now_ms=T0 + 1) == 0
    assert store.moves() == []


def test_demote_tenant_moves_its_pending_jobs_at_that_level(store):
    # given tenant a with two pending and one running job at level 1 and one at level 2; tenant b at level 1
    a_run, a1, a2, a_l2, b1 = (
        new_job(tenant="a", level=1),
        new_job(tenant="a", level=1),
        new_job(tenant="a", level=1),
        new_job(tenant="a", level=2),
        new_job(tenant="b", level=1),
    )
    store.submit([a_run], now_ms=T0)
    assert lease_ids(store, T0) == [a_run.id]
    store.submit([a1, a2, a_l2, b1], now_ms=T0 + 1)
    # when a is demoted at level 1 to level 3 until T0+10s
    moved = store.demote_tenant("a", level=1, to_level=3, until_ms=T0 + 10_000, reason="over allotment", now_ms=T0 + 5)
    # then its two pending level-1 jobs moved to level 3; everything else stayed
    assert moved == 2
    levels = {
        name: store.get(job.id).level
        for name, job in {"a_run": a_run, "a1": a1, "a2": a2, "a_l2": a_l2, "b1": b1}.items()
    }
    assert levels == {"a_run": 1, "a1": 3, "a2": 3, "a_l2": 2, "b1": 1}
    # and one move entry records it, with no job id and the count
    assert store.moves() == [Move(T0 + 5, None, "a", 1, 3, "over allotment", 2)]
    # and the demotion is listed while in force
    assert store.demotions(T0 + 9_999) == [Demotion("a", 1, 3, T0 + 10_000)]
    assert store.demotions(T0 + 10_001) == []


def test_a_demoted_tenants_new_jobs_go_to_the_lower_level_until_the_demotion_ends(store):
    # given tenant a demoted at level 1 to level 3 until T0+10s (with nothing pending)
    assert store.demote_tenant("a", level=1, to_level=3, until_ms=T0 + 10_000, reason="allotment", now_ms=T0) == 0
    # when a and b submit level-1 jobs, and a a level-2 job, during the demotion
    during, other_level, other_tenant = (
        new_job(tenant="a", level=1),
        new_job(tenant="a", level=2),
        new_job(tenant="b", level=1),
    )
    store.submit([during, other_level, other_tenant], now_ms=T0 + 5_000)
    # and a submits a level-1 job after it ended
    after = new_job(tenant="a", level=1)
    store.submit([after], now_ms=T0 + 10_001)
    # then only a's level-1 job during the demotion landed at level 3
    got = {
        name: store.get(job.id)
        for name, job in {
            "during": during,
            "other_level": other_level,
            "other_tenant": other_tenant,
            "after": after,
        }.items()
    }
    assert {name: job.level for name, job in got.items()} == {
        "during": 3,
        "other_level": 2,
        "other_tenant": 1,
        "after": 1,
    }
    assert got["during"].submitted_level == 1


def test_waiting_lists_pending_jobs_enqueued_before_the_cutoff_oldest_first(store):
    # given level-2 jobs enqueued at T0, +10, +20, +30, +40 (the oldest running; the one at +30 submitted
    # at level 3 and moved up), and an older job at level 1
    levels = {"a": 2, "b": 2, "c": 2, "d": 3, "e": 2}
    jobs = [new_job(tenant=t, level=levels[t], deadline_ms=T0 + 999 if t == "b" else None) for t in "abcde"]
    store.submit([new_job(level=1)], now_ms=T0 - 100)
    for i, job in enumerate(jobs):
        store.submit([job], now_ms=T0 + 10 * i)
    assert store.move([jobs[3].id], to_level=2, reason="aging", now_ms=T0 + 45) == 1
    assert lease_ids(store, T0 + 50, levels=[2]) == [jobs[0].id]
    # when asked for level-2 jobs enqueued before T0+25 / then the pending ones, oldest first
    expected = [waiting_job(jobs[i], 2, T0 + 10 * i) for i in (1, 2)]
    assert store.waiting(2, enqueued_before_ms=T0 + 25, limit=10) == expected
    assert store.waiting(2, enqueued_before_ms=T0 + 1_000, limit=2) == expected
    # and the moved job shows its new level, its kept enqueue time and the level it was submitted at
    assert store.waiting(2, enqueued_before_ms=T0 + 1_000, limit=10) == [
        *expected,
        WaitingJob(jobs[3].id, "noop", "d", 2, T0 + 30, None, submitted_level=3),
        waiting_job(jobs[4], 2, T0 + 40),
    ]
    assert store.waiting(0, enqueued_before_ms=T0 + 1_000, limit=10) == []
    assert store.waiting(3, enqueued_before_ms=T0 + 1_000, limit=10) == []


def test_due_lists_pending_jobs_by_deadline_earliest_first(store):
    # given a running level-2 job with the earliest deadline, then pending level-2 jobs with and without deadlines
    running = new_job(level=2, deadline_ms=T0 + 50)
    store.submit([running], now_ms=T0)
    assert lease_ids(store, T0) == [running.id]
    d500, d100, none, d300, d900 = (
        new_job(level=2, deadline_ms=d) for d in (T0 + 500, T0 + 100, None, T0 + 300, T0 + 900)
    )
    store.submit([d500, d100, none, d300, d900], now_ms=T0 + 1)
    store.submit([new_job(level=1, deadline_ms=T0 + 10)], now_ms=T0 + 2)
    # when asked for level-2 jobs due before T0+600 / then pending ones with deadlines, earliest first
    expected = [waiting_job(job, 2, T0 + 1) for job in (d100, d300, d500)]
    assert store.due(2, deadline_before_ms=T0 + 600, limit=10) == expected
    assert store.due(2, deadline_before_ms=T0 + 600, limit=2) == expected[:2]
    assert store.due(3, deadline_before_ms=T0 + 600, limit=10) == []


def test_stats_count_jobs_by_state_level_and_type(store):
    # given at level 2 tenant a's noop (will run), email (will be delayed) and noop (will be dead)
    run, delayed, dead = new_job(level=2), new_job(level=2, type="email"), new_job(level=2)
    store.submit([run, delayed, dead], now_ms=T0)
    leases = store.lease(3, "w1", ttl_ms=60_000, now_ms=T0, levels=[2])
    assert [lease.job.id for lease in leases] == [run.id, delayed.id, dead.id]
    store.fail(leases[1].ref, "boom", now_ms=T0, retry_at_ms=T0 + 10_000)
    store.fail(leases[2].ref, "boom", now_ms=T0, retry_at_ms=None)
    # and pending: two noop and one email at level 0, one noop at level 3; plus one done job
    store.submit([new_job(level=0)], now_ms=T0 + 1)
    store.submit([new_job(level=0), new_job(level=0, type="email", tenant="b")], now_ms=T0 + 2)
    store.submit([new_job(level=3)], now_ms=T0 + 4)
    store.submit([done := new_job(level=1)], now_ms=T0 + 5)
    [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0 + 6, levels=[1])
    assert store.ack([lease.ref], now_ms=T0 + 7) == [True]
    assert store.get(done.id).state == JobState.DONE
    # when stats are read / then exact counts, and the oldest enqueue time per level with pending jobs
    stats = store.stats()
    assert QueueStats(
        nonzero(stats.pending), nonzero(stats.running), stats.delayed, stats.dead, stats.oldest_enqueued_ms
    ) == QueueStats(
        pending={(0, "noop"): 2, (0, "email"): 1, (3, "noop"): 1},
        running={(2, "noop"): 1},
        delayed=1,
        dead=1,
        oldest_enqueued_ms={0: T0 + 1, 3: T0 + 4},
    )
