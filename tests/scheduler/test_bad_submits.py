"""Property test of the submit API: a valid submission with one field spoiled at random, on both stores. Every
spoiled submission is refused with an InvalidJobError whose message starts with the field's name, and the store
holds exactly what it held before."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.clock import FakeClock
from scheduler.config import SchedulerConfig
from scheduler.errors import InvalidJobError
from scheduler.payload import MAX_DEPTH
from scheduler.queue import Scheduler
from scheduler.registry import JobTypeRegistry
from scheduler.store import JobStore
from scheduler.validation import MAX_KEY_CHARS

CONFIG = SchedulerConfig(max_payload_bytes=1024)
VALID: dict[str, Any] = {"job_type": "sleep", "payload": {"seconds": 1}, "tenant": "tenant-1"}


def nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


not_a_number = st.one_of(st.text(max_size=5), st.none(), st.booleans(), st.lists(st.integers(), max_size=2))
bad_seconds = st.one_of(
    st.floats(max_value=0, exclude_max=False, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.text(max_size=5),
    st.booleans(),
)
# a sleep's payload may ask for 0 s (its schema's minimum), so only what is below or beside it is bad there
bad_sleep_seconds = st.one_of(
    st.floats(max_value=-0.001, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.text(max_size=5),
    st.booleans(),
)

# (field the error must name, the option or argument spoiled, a strategy for its bad value)
SPOILERS: list[tuple[str, str, st.SearchStrategy[Any]]] = [
    ("type", "job_type", st.text(max_size=20).filter(lambda name: name not in {"noop", "sleep", "fail"})),
    ("tenant", "tenant", st.text(min_size=1, max_size=10).filter(lambda t: not t.isascii() or " " in t or "'" in t)),
    ("tenant", "tenant", st.one_of(st.just(""), st.text(alphabet="ab", min_size=129, max_size=140))),
    ("tenant", "tenant", st.one_of(st.integers(), st.none(), st.booleans())),
    ("class", "job_class", st.text(min_size=1, max_size=12).filter(lambda name: name not in CONFIG.classes)),
    ("payload", "payload", st.sampled_from([{"seconds": math.nan}, {"seconds": math.inf}, {b"x": 1}, {1, 2}])),
    ("payload", "payload", st.text(min_size=1100, max_size=1200).map(lambda text: {"seconds": 1, "note": text})),
    ("payload", "payload", st.integers(MAX_DEPTH + 1, 3 * MAX_DEPTH).map(lambda depth: {"seconds": nested(depth)})),
    ("payload", "payload", st.one_of(not_a_number, bad_sleep_seconds).map(lambda bad: {"seconds": bad})),
    (
        "payload",
        "payload",
        st.dictionaries(st.text(max_size=5), st.integers(), min_size=1).map(
            lambda extra: {**extra, "seconds": 1, "zz-unknown": 1}
        ),
    ),
    ("payload", "payload", st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=3))),
    ("key", "key", st.one_of(st.just(""), st.text(alphabet="k", min_size=MAX_KEY_CHARS + 1, max_size=300))),
    ("deadline", "deadline_s", bad_seconds),
    ("key_ttl", "key_ttl_s", bad_seconds),
    (
        "max_attempts",
        "max_attempts",
        st.one_of(st.integers(max_value=0), st.booleans(), st.floats(0.5, 3.5), st.text(max_size=3)),
    ),
]


@pytest.fixture
def scheduler(store: JobStore) -> Scheduler:
    """On each store kind (the `store` fixture is parametrised by tests/conftest.py)."""
    return Scheduler(store, CONFIG, registry=JobTypeRegistry(BUILTIN_TYPES), clock=FakeClock())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_spoiled_submission_is_refused_by_name_and_stores_nothing(scheduler: Scheduler, data: st.DataObject):
    before = scheduler.store.stats()
    field, argument, strategy = data.draw(st.sampled_from(SPOILERS), label="spoiled field")
    submission = {**VALID, argument: data.draw(strategy, label=argument)}
    job_type, payload, tenant = submission.pop("job_type"), submission.pop("payload"), submission.pop("tenant")
    with pytest.raises(InvalidJobError) as refused:
        scheduler.submit(job_type, payload, tenant=tenant, **submission)
    assert str(refused.value).startswith(f"{field}") and refused.value.field.split("[")[0] == field
    assert scheduler.store.stats() == before


def test_the_unspoiled_submission_is_accepted(scheduler: Scheduler) -> None:
    submission = dict(VALID)
    result = scheduler.submit(submission.pop("job_type"), submission.pop("payload"), tenant=submission.pop("tenant"))
    assert result.created and scheduler.store.stats().pending
