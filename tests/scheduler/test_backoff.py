"""compute_backoff: equal jitter in [ceiling/2, ceiling], the ceiling doubling per attempt up to max_s."""

from __future__ import annotations

import random

import pytest

from scheduler.backoff import compute_backoff


class FixedRandom(random.Random):
    """A Random whose random() always returns one value (0 gives the floor, just below 1 the ceiling)."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


TOP = 1 - 2**-53  # the largest value random.random() can return

CEILINGS = [
    # (attempt, base_s, max_s, ceiling)
    (1, 1.0, 300.0, 1.0),
    (2, 1.0, 300.0, 2.0),
    (3, 1.0, 300.0, 4.0),
    (9, 1.0, 300.0, 256.0),
    (10, 1.0, 300.0, 300.0),
    (1, 0.25, 300.0, 0.25),
    (4, 0.25, 300.0, 2.0),
    (1, 10.0, 5.0, 5.0),  # a base above the cap is capped from the first attempt
    (64, 1.0, 300.0, 300.0),
    (10**6, 1.0, 300.0, 300.0),
    (10**18, 2.0, 1e9, 1e9),
]


@pytest.mark.parametrize(("attempt", "base_s", "max_s", "ceiling"), CEILINGS)
def test_the_jitter_spans_half_the_ceiling_to_the_ceiling(attempt, base_s, max_s, ceiling):
    assert compute_backoff(attempt, base_s, max_s, FixedRandom(0.0)) == ceiling / 2
    assert compute_backoff(attempt, base_s, max_s, FixedRandom(TOP)) == pytest.approx(ceiling, rel=1e-12)
    assert compute_backoff(attempt, base_s, max_s, FixedRandom(0.5)) == ceiling * 3 / 4


@pytest.mark.parametrize("seed", range(5))
def test_every_result_is_within_bounds(seed):
    rng = random.Random(seed)
    for attempt in range(1, 80):
        ceiling = min(60.0, 0.5 * 2 ** (attempt - 1))
        delay = compute_backoff(attempt, 0.5, 60.0, rng)
        assert ceiling / 2 <= delay <= ceiling, (attempt, delay)


def test_the_floor_doubles_per_attempt_until_the_cap():
    floors = [compute_backoff(attempt, 1.0, 40.0, FixedRandom(0.0)) for attempt in range(1, 9)]
    assert floors == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


def test_a_seeded_random_gives_the_same_delays():
    first = [compute_backoff(attempt, 1.0, 300.0, rng) for rng in [random.Random(42)] for attempt in range(1, 12)]
    again = [compute_backoff(attempt, 1.0, 300.0, rng) for rng in [random.Random(42)] for attempt in range(1, 12)]
    other = [compute_backoff(attempt, 1.0, 300.0, rng) for rng in [random.Random(43)] for attempt in range(1, 12)]
    assert first == again
    assert first != other


@pytest.mark.parametrize("attempt", [63, 64, 1025, 10**9, 2**200])
def test_huge_attempt_numbers_do_not_overflow(attempt):
    # given an uncapped-looking max, the ceiling still stops at base * 2**62
    delay = compute_backoff(attempt, 1.0, float("inf"), FixedRandom(0.0))
    assert delay == 2.0**61
    assert 150.0 <= compute_backoff(attempt, 1.0, 300.0, random.Random(0)) <= 300.0
