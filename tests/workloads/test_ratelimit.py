"""Rate limits: reading the server's advice (pure), the retry loop that follows it, and the emulator's windows."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from workloads.emulator.ratelimit import Limit, Limiter, RateLimits
from workloads.sources.errors import RateLimitedError, SourceUnavailableError
from workloads.sources.ratelimit import RetryPolicy, send_with_retry, wait_s

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {"Retry-After": "7"}, 7.0),
        (429, {"retry-after": " 2.5 "}, 2.5),
        (429, {"Retry-After": "Fri, 15 Jan 2027 08:00:30 GMT"}, 30.0),
        (429, {"Retry-After": "Fri, 15 Jan 2027 07:59:00 GMT"}, 0.0),  # a date in the past: retry now
        (429, {"x-rate-limit-reset": str(int(NOW) + 12)}, 12.0),
        (429, {"X-Rate-Limit-Reset": str(int(NOW) - 5)}, 0.0),
        (429, {"Retry-After": "3", "x-rate-limit-reset": str(int(NOW) + 60)}, 3.0),  # Retry-After wins
        (429, {"Retry-After": "soon", "x-rate-limit-reset": str(int(NOW) + 4)}, 4.0),  # unusable: fall back
        (503, {"Retry-After": "9"}, 9.0),
        (429, {}, None),
        (429, {"x-rate-limit-reset": "later"}, None),
        (200, {"Retry-After": "7"}, None),
        (500, {"Retry-After": "7"}, None),
    ],
)
def test_wait_s(status: int, headers: dict[str, str], expected: float | None) -> None:
    assert wait_s(status, headers, NOW) == expected


def test_wait_s_reads_httpx_headers_case_insensitively() -> None:
    assert wait_s(429, httpx.Headers({"RETRY-AFTER": "5"}), NOW) == 5.0


class Script:
    """A fake API answering a fixed sequence of statuses (or raising), recording how often it was called."""

    def __init__(self, *steps: int | Exception, headers: dict[str, str] | None = None) -> None:
        self.steps = list(steps)
        self.headers = headers or {}
        self.calls = 0
        self.client = httpx.Client(transport=httpx.MockTransport(self.answer))

    def answer(self, request: httpx.Request) -> httpx.Response:
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        if isinstance(step, Exception):
            raise step
        return httpx.Response(step, headers=self.headers if step in (429, 503) else {}, text="{}")

    def send(self) -> Callable[[], httpx.Response]:
        return lambda: self.client.get("https://api.example/thing")


def test_a_429_is_waited_out_as_advised_then_the_answer_returned() -> None:
    # given an API that throttles twice, advising 3 s each time
    script = Script(429, 429, 200, headers={"Retry-After": "3"})
    sleeps: list[float] = []
    # when
    response = send_with_retry(script.send(), "test", RetryPolicy(max_wait_s=10), sleeps.append, lambda: NOW)
    # then it slept as advised and returned the success
    assert response.status_code == 200
    assert sleeps == [3.0, 3.0]
    assert script.calls == 3


def test_a_429_beyond_the_wait_budget_raises_without_sleeping_past_it() -> None:
    # given an API that always throttles for 4 s and a budget of 10 s
    script = Script(429, headers={"Retry-After": "4"})
    sleeps: list[float] = []
    # when / then: two waits fit, the third would not
    with pytest.raises(RateLimitedError) as caught:
        send_with_retry(script.send(), "test", RetryPolicy(max_wait_s=10), sleeps.append, lambda: NOW)
    assert sleeps == [4.0, 4.0]
    assert caught.value.waited_s == 8.0 and caught.value.advised_s == 4.0


def test_5xx_and_connection_errors_are_retried_with_backoff_then_given_up() -> None:
    # given an API that fails with a connection error, then 500s forever
    script = Script(httpx.ConnectError("refused"), 500)
    sleeps: list[float] = []
    policy = RetryPolicy(retries=3, backoff_s=0.5, backoff_cap_s=1.5)
    # when / then
    with pytest.raises(SourceUnavailableError, match="HTTP 500 after 4 attempts"):
        send_with_retry(script.send(), "test", policy, sleeps.append, lambda: NOW)
    assert sleeps == [0.5, 1.0, 1.5]
    assert script.calls == 4


def test_a_transient_5xx_recovers_and_4xx_is_returned_untouched() -> None:
    sleeps: list[float] = []
    assert send_with_retry(Script(502, 404).send(), "test", RetryPolicy(), sleeps.append).status_code == 404
    assert sleeps == [0.5]


def test_the_emulator_limiter_counts_fixed_windows_per_caller() -> None:
    # given a limit of 2 per 10 s and a clock we move
    now = [1000.5]
    limiter = Limiter(RateLimits(x=Limit(requests=2, window_s=10.0)), lambda: now[0])
    # when a caller spends its window
    first, second, third = (limiter.take("x", "alice") for _ in range(3))
    # then the third is refused, told to come back at the window's end, and others are unaffected
    assert (first.allowed, second.allowed, third.allowed) == (True, True, False)
    assert third.remaining == 0 and third.reset_epoch_s == 1010 and third.retry_after_s == 10
    assert third.headers()["Retry-After"] == "10" and third.headers()["x-rate-limit-reset"] == "1010"
    assert limiter.take("x", "bob").allowed
    assert limiter.take("graph", "alice").allowed
    # and a new window admits again
    now[0] = 1010.0
    assert limiter.take("x", "alice").allowed


def test_the_emulator_limiter_charges_batches_per_item() -> None:
    limiter = Limiter(RateLimits(graph=Limit(requests=60, window_s=60.0)), lambda: 0.0)
    assert limiter.take("graph", "t", units=50).allowed
    refused = limiter.take("graph", "t", units=50)
    assert not refused.allowed and refused.remaining == 10


def test_the_emulator_limiter_caps_usage_per_caller_until_the_period_ends() -> None:
    # given a cap of 3 requests a 30-day period, inside a generous window, and a clock we move
    now = [1000.0]
    limiter = Limiter(
        RateLimits(x=Limit(requests=100, window_s=60.0, cap=3, cap_period_s=30 * 86_400.0)), lambda: now[0]
    )
    # when a caller spends its cap across several windows
    allowed = [limiter.take("x", "alice").allowed for _ in range(2)]
    now[0] += 120.0
    allowed.append(limiter.take("x", "alice").allowed)
    capped = limiter.take("x", "alice")
    # then the fourth is capped although its window has room, and says when the period ends
    assert allowed == [True, True, True]
    assert (capped.allowed, capped.capped, capped.remaining) == (False, True, 99)  # one used in this window
    assert capped.cap_reset_epoch_s == 30 * 86_400
    # X's headers never carry Retry-After; other callers and a new period are not capped
    assert "Retry-After" not in capped.rate_limit_headers()
    assert limiter.take("x", "bob").allowed
    now[0] = 30 * 86_400.0
    assert limiter.take("x", "alice").allowed


def test_without_a_cap_nobody_is_capped() -> None:
    limiter = Limiter(RateLimits(x=Limit(requests=1, window_s=60.0)), lambda: 0.0)
    verdicts = [limiter.take("x", "alice") for _ in range(3)]
    assert [(v.allowed, v.capped) for v in verdicts] == [(True, False), (False, False), (False, False)]
