"""How long an API asks us to wait, and a retry loop for httpx calls that honours it.

`wait_s` is pure: status, headers and the time in, seconds out. `send_with_retry` sleeps through 429s for as long
as the server advises, up to a total budget (a job holding a lease must not hang for an hour), and retries 5xx
answers and connection errors a few times with exponential backoff. The sleep and the clock are injected so tests
can advance a fake clock instead of waiting.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

from workloads.sources.errors import RateLimitedError, SourceUnavailableError

Sleep = Callable[[float], None]
Clock = Callable[[], float]
# Trouble on the way (refused, reset, timed out); not our own malformed requests (LocalProtocolError & co).
_RETRYABLE = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Limits of the retry loop; the defaults suit a background job, tests pass smaller ones."""

    max_wait_s: float = 120.0  # total sleep spent on 429s before giving up with RateLimitedError
    retries: int = 3  # extra attempts after a 5xx answer or a connection error
    backoff_s: float = 0.5  # first backoff; doubles per failure
    backoff_cap_s: float = 8.0
    default_429_wait_s: float = 5.0  # for a 429 that carries no advice


def wait_s(status: int, headers: Mapping[str, str], now_s: float) -> float | None:
    """Seconds to wait before retrying, per Retry-After (seconds or HTTP date) or else x-rate-limit-reset
    (epoch seconds); None when the status is not 429/503 or the headers give no usable advice."""
    if status not in (429, 503):
        return None
    lowered = {key.lower(): value for key, value in headers.items()}
    retry_after = lowered.get("retry-after")
    if retry_after is not None:
        advised = _retry_after_s(retry_after.strip(), now_s)
        if advised is not None:
            return advised
    reset = lowered.get("x-rate-limit-reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - now_s)
        except ValueError:
            return None
    return None


def backoff_s(failures: int, policy: RetryPolicy) -> float:
    """Backoff after the `failures`-th failure (1-based): base * 2^(n-1), capped."""
    return float(min(policy.backoff_cap_s, policy.backoff_s * 2 ** (failures - 1)))


def send_with_retry(
    send: Callable[[], httpx.Response],
    api: str,
    policy: RetryPolicy,
    sleep: Sleep = time.sleep,
    clock: Clock = time.time,
) -> httpx.Response:
    """Call `send` until it answers something other than 429/5xx; return that response (4xx included)."""
    waited = 0.0
    failures = 0
    while True:
        try:
            response = send()
        except _RETRYABLE as err:
            failures += 1
            if failures > policy.retries:
                # The error's type says enough; its text may carry a URL, which we keep out of messages.
                raise SourceUnavailableError(f"{api}: {type(err).__name__} after {failures} attempts") from err
            sleep(backoff_s(failures, policy))
            continue
        status = response.status_code
        if status == 429:
            advised = wait_s(status, response.headers, clock())
            delay = advised if advised is not None else policy.default_429_wait_s
            if waited + delay > policy.max_wait_s:
                raise RateLimitedError(api, waited, advised)
            sleep(delay)
            waited += delay
            continue
        if status >= 500:
            failures += 1
            if failures > policy.retries:
                raise SourceUnavailableError(f"{api}: HTTP {status} after {failures} attempts")
            advised = wait_s(status, response.headers, clock())
            sleep(min(advised, policy.backoff_cap_s) if advised is not None else backoff_s(failures, policy))
            continue
        return response


def _retry_after_s(value: str, now_s: float) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are always UTC
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now_s)


# Graph's platform limits count calls over a rolling hour; X-App-Usage gives the share used in percent. With no
# estimate in the headers, a throttled caller waits for the window to drain one percent per point over 99 (36 s
# at 100 %), the back-off docs/api-graph.md documents.
GRAPH_WINDOW_S = 3600.0
_GRAPH_SHARES = ("call_count", "total_cputime", "total_time")
_GRAPH_REGAIN = "estimated_time_to_regain_access"  # minutes


def graph_usage_wait_s(headers: Mapping[str, str]) -> float | None:
    """Seconds a throttled Graph caller should wait, from the usage headers: the longest
    `estimated_time_to_regain_access` of X-Business-Use-Case-Usage or X-Page-Usage, else the back-off above from
    the highest share any usage header reports; None when no usage header is readable."""
    lowered = {key.lower(): value for key, value in headers.items()}
    entries: list[dict[str, object]] = []
    for name in ("x-business-use-case-usage", "x-page-usage", "x-app-usage"):
        try:
            usage = json.loads(lowered.get(name, "null"))
        except ValueError:
            continue
        if name == "x-business-use-case-usage" and isinstance(usage, dict):  # {business id: [usage, ...]}
            listed = [entry for value in usage.values() if isinstance(value, list) for entry in value]
            entries += [entry for entry in listed if isinstance(entry, dict)]
        elif isinstance(usage, dict):
            entries.append(usage)
    minutes = [_number(entry.get(_GRAPH_REGAIN)) for entry in entries]
    shares = [_number(entry.get(key)) for entry in entries for key in _GRAPH_SHARES]
    if max(minutes, default=0.0) > 0:
        return max(minutes) * 60.0
    if not entries:
        return None
    return (max(*shares, 100.0) - 99.0) * GRAPH_WINDOW_S / 100.0


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
