from __future__ import annotations

import pytest

from ebbflow.job_types import load_registry
from scheduler.errors import ConfigError

NOT_TYPES = ["a string is not a JobType"]


def test_extra_types_join_the_installed_ones() -> None:
    registry = load_registry(["tests.dispatcher.jobs:TYPES"])
    assert {"noop", "sleep", "fail", "t-rec", "t-fenced"} <= set(registry.names())


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("nosuchmodule:TYPES", "No module named 'nosuchmodule'"),
        ("tests.dispatcher.jobs:NOPE", "has no attribute 'NOPE'"),
        ("tests.ebbflow.test_job_types:NOT_TYPES", "must be an iterable of scheduler.registry.JobType"),
        ("tests.dispatcher.jobs:REC", "not iterable"),
    ],
)
def test_a_bad_reference_is_a_config_error_naming_it(reference: str, message: str) -> None:
    with pytest.raises(ConfigError, match="job_types") as err:
        load_registry([reference])
    assert reference in str(err.value) and message in str(err.value)
