"""Every API fixture is well formed: it names the documentation it was written from and when, an outcome for
the adapter, and a body that is there; pinned paths exist in the documented body."""

from __future__ import annotations

import re

import pytest

from tests.workloads.api_contract import FIXTURES, Case, _at, _is_json, load_cases

SOURCES = sorted(path.name for path in FIXTURES.iterdir() if path.is_dir())
CASES = [case for source in SOURCES for case in load_cases(source)]


def test_every_source_of_the_packs_has_fixtures() -> None:
    assert {"graph", "x", "video", "youtube"} <= set(SOURCES)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.source}/{c.id}" for c in CASES])
def test_a_fixture_says_where_it_comes_from_and_what_it_means(case: Case) -> None:
    assert case.doc_url.startswith("https://"), case.doc_url
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", case.doc_read), case.doc_read
    assert case.expect and case.name
    assert 100 <= case.answer.status < 600
    for path in case.pinned:
        assert _is_json(case.answer) and _at(case.answer.json(), path) is not None, f"{path} not in the body"
    for marker in case.markers:
        assert marker in case.answer.text, marker
