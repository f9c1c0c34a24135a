"""Scheduler.prepare / submit: refusals name the field and store nothing; accepted submissions get the
level, deadline and attempts their class, type and config give them."""

from __future__ import annotations

import pytest

from scheduler.config import SchedulerConfig
from scheduler.errors import InvalidJobError, PayloadError, UnknownClassError, UnknownJobTypeError
from scheduler.job import JobState, JSONValue, NewJob
from scheduler.registry import JobType, JobTypeRegistry
from scheduler.store import QueueStats
from scheduler.validation import MAX_ESTIMATE_MS, SubmissionValidator
from tests.stores import T0

EMPTY = QueueStats(pending={}, running={}, delayed=0, dead=0, oldest_enqueued_ms={})
NAN, INF = float("nan"), float("inf")

REFUSALS = {
    # id: (job type, payload, keyword arguments, error type, field, part of the message)
    "unknown type": ("nope", None, {}, UnknownJobTypeError, "type", "registered: fail, flaky, noop, report, sleep"),
    "unknown class": ("noop", None, {"job_class": "vip"}, UnknownClassError, "class", "classes: batch, daily-active"),
    "empty tenant": ("noop", None, {"tenant": ""}, InvalidJobError, "tenant", "1-128 letters"),
    "long tenant": ("noop", None, {"tenant": "t" * 129}, InvalidJobError, "tenant", "1-128 letters"),
    "tenant with a space": ("noop", None, {"tenant": "a b"}, InvalidJobError, "tenant", "'a b'"),
    "tenant with a bar": ("noop", None, {"tenant": "a|b"}, InvalidJobError, "tenant", "'a|b'"),
    "tenant with a newline": ("noop", None, {"tenant": "acme\n"}, InvalidJobError, "tenant", "1-128 letters"),
    "tenant not a string": ("noop", None, {"tenant": 7}, InvalidJobError, "tenant", "7 must be"),
    "payload a set": ("noop", {1, 2}, {}, PayloadError, "payload", "must be JSON"),
    "payload NaN": ("noop", NAN, {}, PayloadError, "payload", "must be JSON"),
    "payload with infinity": ("noop", {"x": [INF]}, {}, PayloadError, "payload", "must be JSON"),
    "payload too big": ("noop", {"data": "x" * 22}, {}, PayloadError, "payload", "33 bytes of JSON; the limit is 32"),
    "sleep without seconds": ("sleep", {}, {}, PayloadError, "payload", "'seconds' is a required property"),
    "sleep negative": ("sleep", {"seconds": -1}, {}, PayloadError, "payload['seconds']", "less than the minimum of 0"),
    "sleep extra property": ("sleep", {"seconds": 1, "x": 2}, {}, PayloadError, "payload", "'x' was unexpected"),
    "sleep not an object": ("sleep", [1], {}, PayloadError, "payload", "is not of type 'object'"),
    "empty key": ("noop", None, {"key": ""}, InvalidJobError, "key", "non-empty string of at most 256"),
    "long key": ("noop", None, {"key": "k" * 257}, InvalidJobError, "key", "non-empty string of at most 256"),
    "key not a string": ("noop", None, {"key": 12}, InvalidJobError, "key", "non-empty string"),
    "zero key ttl": ("noop", None, {"key": "k", "key_ttl_s": 0}, InvalidJobError, "key_ttl", "positive number"),
    "key ttl over a week": ("noop", None, {"key": "k", "key_ttl_s": 604_801}, InvalidJobError, "key_ttl", "604800 s"),
    "cron's key space": ("noop", None, {"key": "cron:x:1"}, InvalidJobError, "key", "reserved for the cron runner"),
    "zero deadline": ("noop", None, {"deadline_s": 0}, InvalidJobError, "deadline", "positive number of seconds"),
    "negative deadline": ("noop", None, {"deadline_s": -5}, InvalidJobError, "deadline", "-5 must be"),
    "NaN deadline": ("noop", None, {"deadline_s": NAN}, InvalidJobError, "deadline", "nan must be"),
    "infinite deadline": ("noop", None, {"deadline_s": INF}, InvalidJobError, "deadline", "inf must be"),
    "bool deadline": ("noop", None, {"deadline_s": True}, InvalidJobError, "deadline", "True must be"),
    "string deadline": ("noop", None, {"deadline_s": "60"}, InvalidJobError, "deadline", "'60' must be"),
    "zero attempts": ("noop", None, {"max_attempts": 0}, InvalidJobError, "max_attempts", "0 must be a whole number"),
    "bool attempts": ("noop", None, {"max_attempts": True}, InvalidJobError, "max_attempts", "True must be"),
    "fractional attempts": ("noop", None, {"max_attempts": 1.5}, InvalidJobError, "max_attempts", "1.5 must be"),
}


@pytest.mark.parametrize(
    ("job_type", "payload", "kwargs", "error", "field", "message"), REFUSALS.values(), ids=REFUSALS.keys()
)
def test_a_refused_submission_names_the_field_and_stores_nothing(
    make_scheduler, store, job_type, payload, kwargs, error, field, message
):
    # given a scheduler whose payload limit is 32 bytes
    scheduler = make_scheduler(SchedulerConfig(max_payload_bytes=32))
    kwargs = {"tenant": "acme", **kwargs}
    # when the submission is prepared or submitted / then it is refused with the exact error type and field
    for call in (scheduler.prepare, scheduler.submit):
        with pytest.raises(InvalidJobError) as refused:
            call(job_type, payload, **kwargs)
        assert (type(refused.value), refused.value.field) == (error, field)
        assert message in str(refused.value)
        assert str(refused.value).startswith(f"{field}: ")
    # and nothing was stored
    assert store.stats() == EMPTY
    assert store.moves() == []


LIMITS = {
    "128-char tenant": ({"tenant": "T" * 128}, "payload"),
    "tenant punctuation": ({"tenant": "org_1.team:x@y-z"}, "payload"),
    "256-char key": ({"key": "k" * 256}, "payload"),
    "payload at the limit": ({}, {"data": "x" * 21}),  # 32 bytes of JSON
}


@pytest.mark.parametrize(("kwargs", "payload"), LIMITS.values(), ids=LIMITS.keys())
def test_values_at_the_limits_are_accepted(make_scheduler, store, kwargs, payload):
    scheduler = make_scheduler(SchedulerConfig(max_payload_bytes=32))
    result = scheduler.submit("noop", payload, **{"tenant": "acme", **kwargs})
    assert result.created
    assert scheduler.get(result.job_id).state is JobState.PENDING


S = 1000
ESTIMATE_MS = {"noop": 1, "report": 2_500}  # their types' expected_run_s (no estimate_s)
CLASSES = {
    # id: (job type, keyword arguments, expected class, level, deadline after submit in ms)
    "new-signup": ("noop", {"job_class": "new-signup"}, "new-signup", 0, 60 * S),
    "daily-active": ("noop", {"job_class": "daily-active"}, "daily-active", 1, 900 * S),
    "weekly-active": ("noop", {"job_class": "weekly-active"}, "weekly-active", 2, 3600 * S),
    "monthly-active": ("noop", {"job_class": "monthly-active"}, "monthly-active", 3, 6 * 3600 * S),
    "batch": ("noop", {"job_class": "batch"}, "batch", 3, None),
    "config default class": ("noop", {}, "batch", 3, None),
    "type default class": ("report", {}, "daily-active", 1, 900 * S),
    "explicit class beats the type's": ("report", {"job_class": "new-signup"}, "new-signup", 0, 60 * S),
    "explicit deadline": ("noop", {"job_class": "new-signup", "deadline_s": 2.5}, "new-signup", 0, 2500),
    "deadline on a class without one": ("noop", {"deadline_s": 30}, "batch", 3, 30 * S),
}


@pytest.mark.parametrize(("job_type", "kwargs", "job_class", "level", "deadline"), CLASSES.values(), ids=CLASSES.keys())
def test_class_level_and_deadline(scheduler, clock, job_type, kwargs, job_class, level, deadline):
    # given the clock at T0 + 5 s
    clock.advance(5)
    now = T0 + 5 * S
    # when a submission is prepared
    job = scheduler.prepare(job_type, {"n": 1}, tenant="acme", **kwargs)
    # then it is the whole expected NewJob
    expected = NewJob(
        id=job.id,
        type=job_type,
        tenant="acme",
        job_class=job_class,
        level=level,
        payload_json='{"n":1}',
        created_ms=now,
        max_attempts=5,
        deadline_ms=None if deadline is None else now + deadline,
        estimate_ms=ESTIMATE_MS[job_type],
    )
    assert job == expected


def test_the_config_default_class_is_used_when_neither_submit_nor_type_names_one(make_scheduler):
    scheduler = make_scheduler(SchedulerConfig(default_class="weekly-active"))
    job = scheduler.prepare("noop", tenant="acme")
    assert (job.job_class, job.level, job.deadline_ms) == ("weekly-active", 2, T0 + 3600 * S)


ATTEMPTS = [
    # (job type, asked, expected)
    ("noop", None, 5),  # the config's default
    ("flaky", None, 2),  # the type's default
    ("flaky", 7, 7),  # the submit's own
    ("noop", 1, 1),
]


@pytest.mark.parametrize(("job_type", "asked", "expected"), ATTEMPTS)
def test_max_attempts(scheduler, job_type, asked, expected):
    assert scheduler.prepare(job_type, tenant="acme", max_attempts=asked).max_attempts == expected


def test_key_and_key_ttl(scheduler):
    job = scheduler.prepare("noop", tenant="acme", key="order-17", key_ttl_s=1.5)
    assert (job.key, job.key_ttl_ms) == ("order-17", 1500)


def test_a_submitted_job_is_stored_as_prepared(scheduler, clock):
    # when a report is submitted with a deadline
    result = scheduler.submit("report", {"day": "mon"}, tenant="acme", deadline_s=10)
    # then the store holds it pending at its class's level
    job = scheduler.get(result.job_id)
    got = (job.type, job.tenant, job.job_class, job.level, job.submitted_level, job.payload, job.deadline_ms)
    assert got == ("report", "acme", "daily-active", 1, 1, {"day": "mon"}, T0 + 10 * S)
    assert (job.state, job.attempts, job.max_attempts, job.created_ms, job.enqueued_ms) == (
        JobState.PENDING,
        0,
        5,
        T0,
        T0,
    )


def test_a_prepared_job_is_not_stored_until_submitted(scheduler, store):
    job = scheduler.prepare("noop", tenant="acme")
    assert store.stats() == EMPTY
    assert scheduler.submit_many([job])[0].job_id == job.id
    assert store.stats().pending == {(3, "noop"): 1}


def _video_minutes(payload: JSONValue) -> float:
    return float(payload["minutes"]) * 60


def _broken(payload: JSONValue) -> float:
    raise KeyError("minutes")


ESTIMATES = {
    # id: (estimate_s of the type, payload, estimate_ms of the job)
    "from the payload": (_video_minutes, {"minutes": 2.5}, 150_000),
    "rounded to the ms": (_video_minutes, {"minutes": 0.00001}, 1),
    "no estimator: expected_run_s": (None, {"minutes": 9}, 4_000),
    "broken estimator: expected_run_s": (_broken, {}, 4_000),
    "an estimator that divides by zero: expected_run_s": (lambda payload: 1 / 0, {}, 4_000),
    "a NaN estimate: expected_run_s": (lambda payload: float("nan"), {}, 4_000),
    "zero estimate: expected_run_s": (lambda payload: 0.0, {}, 4_000),
    "a wild estimate is capped": (lambda payload: 1e300, {}, MAX_ESTIMATE_MS),
    "an infinite one too": (lambda payload: INF, {}, MAX_ESTIMATE_MS),
}


@pytest.mark.parametrize(("estimator", "payload", "estimate_ms"), ESTIMATES.values(), ids=ESTIMATES.keys())
def test_a_job_carries_its_types_cost_estimate_in_ms(estimator, payload, estimate_ms):
    # given a type that runs 4 s by default and may estimate its work from the payload
    video = JobType("video", expected_run_s=4.0, estimate_s=estimator)
    validator = SubmissionValidator(SchedulerConfig(), JobTypeRegistry([video]))
    # when a job of it is validated / then it carries the estimate in ms
    assert validator.new_job("video", payload, tenant="acme", now_ms=T0).estimate_ms == estimate_ms
