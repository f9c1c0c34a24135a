"""policy.plan as tables: a PolicyInput goes in, the whole Plan comes out (demotion, aging, deadline)."""

from __future__ import annotations

import pytest

from scheduler.config import LevelConfig, SchedulerConfig
from scheduler.policy import Plan, PlannedDemotion, PlannedMove, PolicyInput, aging_threshold_ms, plan
from scheduler.store import Demotion, WaitingJob

NOW = 1_700_000_000_000
S, MIN, H = 1000, 60_000, 3_600_000
DEFAULT = SchedulerConfig()
# a level with no allotment that is not the last, a level (not 0) that never ages, and a level 0 with a max
# wait and a last level with an allotment (neither of which may have an effect)
GAPPY = SchedulerConfig(
    levels=(
        LevelConfig(name="top", max_wait_s=60, allotment_s=10),
        LevelConfig(name="mid", max_wait_s=None, allotment_s=None),
        LevelConfig(name="low", max_wait_s=60, allotment_s=10),
        LevelConfig(name="bottom", max_wait_s=60, allotment_s=10),
    ),
    classes={"batch": {"level": "bottom"}},
    demotion_window_s=60,
)


def job(job_id="j1", level=3, waited_ms=0, submitted=None, deadline_in_ms=None, type="noop") -> WaitingJob:
    """A pending job as the policy sees it, enqueued `waited_ms` before NOW."""
    deadline = None if deadline_in_ms is None else NOW + deadline_in_ms
    return WaitingJob(job_id, type, "t1", level, NOW - waited_ms, deadline, submitted_level=submitted)


def given(usage=None, demotions=(), waiting=(), due=(), expected=None) -> PolicyInput:
    return PolicyInput(NOW, usage or {}, tuple(demotions), tuple(waiting), tuple(due), expected or {})


def demote(tenant, level, until_ms, reason) -> Plan:
    return Plan(demotions=(PlannedDemotion(tenant, level, level + 1, until_ms, reason),), moves=())


def moves(*planned: PlannedMove) -> Plan:
    return Plan(demotions=(), moves=planned)


NOTHING = Plan(demotions=(), moves=())
URGENT_REASON = "tenant used 300.001 run-s at urgent in the last 600 s; allotment 300 s"

DEMOTION_CASES = {
    "over the allotment": (
        DEFAULT,
        given(usage={(0, "a"): 300_001}),
        demote("a", 0, NOW + 600 * S, URGENT_REASON),
    ),
    "exactly the allotment": (DEFAULT, given(usage={(0, "a"): 300_000}), NOTHING),
    "below the allotment": (DEFAULT, given(usage={(1, "a"): 1_799_999}), NOTHING),
    "daily level, fractional usage": (
        DEFAULT,
        given(usage={(1, "a"): 1_800_250}),
        demote("a", 1, NOW + 600 * S, "tenant used 1,800.25 run-s at daily in the last 600 s; allotment 1,800 s"),
    ),
    "last level never demotes": (DEFAULT, given(usage={(3, "a"): 10**9}), NOTHING),
    "last level with an allotment never demotes": (GAPPY, given(usage={(3, "a"): 10**9}), NOTHING),
    "level without an allotment": (GAPPY, given(usage={(1, "a"): 10**9}), NOTHING),
    "window sets until": (
        GAPPY,
        given(usage={(2, "a"): 10_001}),
        demote("a", 2, NOW + 60 * S, "tenant used 10.001 run-s at low in the last 60 s; allotment 10 s"),
    ),
    "already demoted there": (
        DEFAULT,
        given(usage={(0, "a"): 400_000}, demotions=[Demotion("a", 0, 1, NOW + 5 * S)]),
        NOTHING,
    ),
    "demoted elsewhere or another tenant": (
        DEFAULT,
        given(
            usage={(0, "b"): 300_001, (0, "a"): 300_001, (1, "a"): 10},
            demotions=[Demotion("a", 1, 2, NOW + 5 * S), Demotion("c", 0, 1, NOW + 5 * S)],
        ),
        Plan(
            demotions=(
                PlannedDemotion("a", 0, 1, NOW + 600 * S, URGENT_REASON),
                PlannedDemotion("b", 0, 1, NOW + 600 * S, URGENT_REASON),
            ),
            moves=(),
        ),
    ),
}


@pytest.mark.parametrize(("config", "data", "expected"), DEMOTION_CASES.values(), ids=DEMOTION_CASES.keys())
def test_demotion(config, data, expected):
    assert plan(data, config) == expected


def aged(job_id, level, waited_ms, allowed_ms, level_name) -> PlannedMove:
    waited, allowed = f"{waited_ms / 1000:,.3f}".rstrip("0").rstrip("."), f"{allowed_ms // 1000:,}"
    return PlannedMove(job_id, level, level - 1, f"aging: waited {waited} s > {allowed} s allowed by {level_name}")


AGING_CASES = {
    "background at exactly its max wait": (DEFAULT, [job(level=3, waited_ms=6 * H, submitted=3)], NOTHING),
    "background past its max wait": (
        DEFAULT,
        [job(level=3, waited_ms=6 * H + 1, submitted=3)],
        moves(PlannedMove("j1", 3, 2, "aging: waited 21,600.001 s > 21,600 s allowed by background")),
    ),
    "weekly from background before 6h+1h": (DEFAULT, [job(level=2, waited_ms=7 * H, submitted=3)], NOTHING),
    "weekly from background after 6h+1h": (
        DEFAULT,
        [job(level=2, waited_ms=7 * H + 1, submitted=3)],
        moves(aged("j1", 2, 7 * H + 1, 7 * H, "weekly")),
    ),
    "daily from background before 6h+1h+15m": (
        DEFAULT,
        [job(level=1, waited_ms=7 * H + 15 * MIN, submitted=3)],
        NOTHING,
    ),
    "daily from background after 6h+1h+15m": (
        DEFAULT,
        [job(level=1, waited_ms=7 * H + 15 * MIN + 1, submitted=3)],
        moves(aged("j1", 1, 7 * H + 15 * MIN + 1, 7 * H + 15 * MIN, "daily")),
    ),
    "submitted at daily": (
        DEFAULT,
        [job(level=1, waited_ms=15 * MIN + 1, submitted=1)],
        moves(aged("j1", 1, 15 * MIN + 1, 15 * MIN, "daily")),
    ),
    "submitted level unknown counts its own level": (
        DEFAULT,
        [job(level=2, waited_ms=H + 1, submitted=None)],
        moves(aged("j1", 2, H + 1, H, "weekly")),
    ),
    "demoted below its submitted level": (
        DEFAULT,
        [job(level=3, waited_ms=6 * H + 1, submitted=2)],
        moves(aged("j1", 3, 6 * H + 1, 6 * H, "background")),
    ),
    "level 0 never ages": (DEFAULT, [job(level=0, waited_ms=1000 * H, submitted=3)], NOTHING),
    "level 0 with a max wait never ages": (GAPPY, [job(level=0, waited_ms=1000 * H, submitted=3)], NOTHING),
    "level without a max wait never ages": (GAPPY, [job(level=1, waited_ms=1000 * H, submitted=3)], NOTHING),
    "several jobs, in input order": (
        DEFAULT,
        [job("a", level=3, waited_ms=6 * H + 1, submitted=3), job("b", level=2, waited_ms=H), job("c", 2, 2 * H)],
        moves(aged("a", 3, 6 * H + 1, 6 * H, "background"), aged("c", 2, 2 * H, H, "weekly")),
    ),
}


@pytest.mark.parametrize(("config", "waiting", "expected"), AGING_CASES.values(), ids=AGING_CASES.keys())
def test_aging(config, waiting, expected):
    assert plan(given(waiting=waiting), config) == expected


THRESHOLD_CASES = [
    # (config, level, submitted level, threshold ms)
    (DEFAULT, 0, 0, None),
    (DEFAULT, 0, 3, None),
    (DEFAULT, 3, 3, 6 * H),
    (DEFAULT, 2, 3, 7 * H),
    (DEFAULT, 1, 3, 7 * H + 15 * MIN),
    (DEFAULT, 1, 2, H + 15 * MIN),
    (DEFAULT, 1, 1, 15 * MIN),
    (DEFAULT, 2, None, H),
    (DEFAULT, 3, 1, 6 * H),  # submitted above where it is now: only its own level counts
    (GAPPY, 0, 3, None),
    (GAPPY, 1, 3, None),
    (GAPPY, 2, 3, 2 * MIN),
]


@pytest.mark.parametrize(("config", "level", "submitted", "expected"), THRESHOLD_CASES)
def test_aging_threshold_ms(config, level, submitted, expected):
    assert aging_threshold_ms(level, submitted, config) == expected


def promoted(job_id, level, slack, expected_run) -> PlannedMove:
    return PlannedMove(job_id, level, 0, f"deadline: slack {slack} s < expected run {expected_run} s")


DEADLINE_CASES = {
    # slack: the time left once the job has run; below one more run, a lost run would miss the deadline
    "slack below the default 1 s": ([job(deadline_in_ms=1999)], {}, moves(promoted("j1", 3, "0.999", "1"))),
    "slack equal to the expected run": ([job(deadline_in_ms=2000)], {}, NOTHING),
    "expected run per type": (
        [job("s", deadline_in_ms=9000, type="sleep"), job("n", deadline_in_ms=9000)],
        {"sleep": 5000.0, "noop": 1.5},
        moves(promoted("s", 3, "4", "5")),
    ),
    "deadline passed": ([job(level=2, deadline_in_ms=-2000)], {}, moves(promoted("j1", 2, "-3", "1"))),
    "already at level 0": ([job(level=0, deadline_in_ms=-2000)], {}, NOTHING),
    "no deadline": ([job(deadline_in_ms=None)], {}, NOTHING),
}


@pytest.mark.parametrize(("due", "expected_run", "expected"), DEADLINE_CASES.values(), ids=DEADLINE_CASES.keys())
def test_deadline_promotion(due, expected_run, expected):
    assert plan(given(due=due, expected=expected_run), DEFAULT) == expected


def test_jobs_expected_to_run_past_promote_max_run_s_keep_their_level():
    # two hours of work due in three: a lost run would miss, but at the top it would hold urgent's
    # on-demand headroom for two hours; with no limit it is promoted
    long_job = [job("long", deadline_in_ms=3 * H, type="sleep")]
    expected = {"sleep": 2.0 * H}
    assert plan(given(due=long_job, expected=expected), DEFAULT) == NOTHING
    unlimited = SchedulerConfig(promote_max_run_s=None)
    assert plan(given(due=long_job, expected=expected), unlimited) == moves(promoted("long", 3, "3,600", "7,200"))


def test_deadline_wins_over_aging_for_the_same_job():
    # given a job both aged past its wait and near its deadline, and another job only aged
    both = job("both", level=3, waited_ms=6 * H + 1, submitted=3, deadline_in_ms=1500)
    only_aged = job("aged", level=3, waited_ms=6 * H + 1, submitted=3)
    # when the policy plans
    got = plan(given(waiting=[both, only_aged], due=[both]), DEFAULT)
    # then the first moves once, to level 0; promotions come before aging moves
    assert got == moves(promoted("both", 3, "0.5", "1"), aged("aged", 3, 6 * H + 1, 6 * H, "background"))


def test_all_three_rules_in_one_plan():
    data = given(
        usage={(0, "a"): 300_001},
        waiting=[job("old", level=3, waited_ms=6 * H + 1, submitted=3)],
        due=[job("due", level=1, deadline_in_ms=1010)],
    )
    assert plan(data, DEFAULT) == Plan(
        demotions=(PlannedDemotion("a", 0, 1, NOW + 600 * S, URGENT_REASON),),
        moves=(promoted("due", 1, "0.01", "1"), aged("old", 3, 6 * H + 1, 6 * H, "background")),
    )
