"""The allocation's promises, whatever the types, rooms and needs: it covers the need (or fills every type),
overshoots by less than one node, never passes a type's max_nodes, never skips a better type that has
room."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.choose import allocate
from autoscaler.fleet import NodeType
from dispatcher.markets import Market

types = st.lists(st.tuples(st.integers(1, 16), st.integers(0, 40), st.integers(0, 40)), min_size=0, max_size=6).map(
    lambda specs: [
        (NodeType(f"t{i}", Market.SPOT, "x", "z", s, 1.0, max_nodes=m), h) for i, (s, m, h) in enumerate(specs)
    ]
)


@settings(max_examples=500, deadline=None)
@given(specs=types, slots=st.floats(0, 2000), spread=st.integers(1, 4))
def test_allocation_keeps_its_promises(specs, slots, spread):
    ranked = [node_type for node_type, _ in specs]
    have = Counter({node_type.name: min(h, node_type.max_nodes) for node_type, h in specs})
    out = allocate(slots, ranked, have, spread)
    size = {t.name: t.slots for t in ranked}
    room = {t.name: t.max_nodes - have[t.name] - out.get(t.name, 0) for t in ranked}
    total = sum(n * size[name] for name, n in out.items())
    assert all(left >= 0 for left in room.values())
    assert total >= slots or all(left == 0 for left in room.values())
    if out:
        assert total - max(size[name] for name in out if out[name]) < slots
    for position, node_type in enumerate(ranked):
        if out.get(node_type.name):
            assert all(out.get(better.name) or room[better.name] == 0 for better in ranked[:position])


def test_a_million_slots_is_a_few_steps():
    ranked = [NodeType(f"t{i}", Market.SPOT, "x", "z", 4, 1.0, max_nodes=10**6) for i in range(3)]
    assert allocate(1_000_000, ranked, Counter(), 2) == {"t0": 125_000, "t1": 125_000}
