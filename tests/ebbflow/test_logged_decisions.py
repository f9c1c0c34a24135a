"""Decision-log lines read leniently into one kind each, with the reason shown first and nodes split by type."""

from __future__ import annotations

import pytest

from ebbflow.logged_decisions import LoggedDecision, parse


@pytest.mark.parametrize(
    ("line", "kind", "why"),
    [
        ({"at": 1, "hold": "hold: stale inputs", "reasons": ["x"]}, "hold", "hold: stale inputs"),
        ({"at": 1, "launches": {"a": 1}, "drains": ["n-1"], "reasons": ["replace"]}, "launch", "replace"),
        ({"at": 1, "launches": {"a": 0}, "drains": ["n-1"], "clamps": ["c"]}, "drain", "c"),
        ({"at": 1, "reasons": ["r1", "r2"], "clamps": ["c"]}, "none", "r1"),
        ({"at": 1}, "none", None),
    ],
)
def test_each_decision_has_one_kind_and_shows_its_first_reason(line, kind, why):
    decision = LoggedDecision.model_validate(line)
    assert (decision.kind, decision.why) == (kind, why)


def test_nodes_split_at_the_last_colon_and_unknown_fields_are_ignored():
    (decision,) = parse([{"at": 5, "nodes": {"gpu:a:running": 2, "b:draining": 1}, "added_later": [1, 2]}])
    assert decision.node_counts() == {("gpu:a", "running"): 2, ("b", "draining"): 1}


def test_lines_that_are_not_decisions_are_skipped():
    assert [d.at for d in parse([{"at": "soon"}, {"nodes": {}}, {"at": 3.5, "acted": True}])] == [3.5]
