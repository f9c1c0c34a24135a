"""Plumbing under tweepy: send its requests to our base URL, stop at a spent usage cap, keep tokens out of logs.

tweepy hardcodes https://api.twitter.com (tweepy.Client.request), so the emulator (or a replay of documented
answers) is reached by mounting `RedirectAdapter` on its requests session: it rewrites scheme and host of each
request just before it is sent. The same adapter looks at every 429: a usage-capped one (a monthly cap, which no
wait lifts) raises UsageCappedError right there, so nothing above it, tweepy's wait_on_rate_limit included, can
sleep on it. Ordinary 429s go up to XClient, which waits them out by x-rate-limit-reset within its budget
(`rate_wait_s`). tweepy.Client logs request headers, bearer token included, at DEBUG: `install_log_redaction`
scrubs them from its records.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters
import requests.utils

from workloads.sources.errors import RateLimitedError, UsageCappedError
from workloads.sources.ratelimit import wait_s
from workloads.sources.x_parse import usage_cap_detail

_API = "x"
_BEARER = re.compile(r"(Bearer\s+)[^\s'\",}]+")
_TWEEPY_LOGGERS = ("tweepy.client", "tweepy.api")
# x-rate-limit-reset is in whole seconds and our clock may be behind X's: wait one second past it, as tweepy does.
RESET_MARGIN_S = 1.0


class RedirectAdapter(requests.adapters.HTTPAdapter):
    """Sends requests meant for the real API to `base_url` instead, with a default timeout; raises
    UsageCappedError on a usage-capped 429."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__()
        target = urlsplit(base_url.rstrip("/"))
        self._scheme, self._netloc, self._prefix = target.scheme, target.netloc, target.path
        self._timeout_s = timeout_s
        # Proxies were chosen by requests for the original host; choose them again for the real target.
        self._proxies = requests.utils.get_environ_proxies(base_url)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        request.url = urlunsplit((self._scheme, self._netloc, self._prefix + parts.path, parts.query, ""))
        kwargs["proxies"] = self._proxies
        if kwargs.get("timeout") is None:  # tweepy.Client never sets one
            kwargs["timeout"] = self._timeout_s
        response: requests.Response = super().send(request, **kwargs)
        if response.status_code == 429:
            detail = usage_cap_detail(_json_or_none(response))
            if detail is not None:
                response.close()  # nobody else will read it once we raise
                raise UsageCappedError(_API, detail)
        return response


def rate_wait_s(headers: Mapping[str, str], now_s: float, waited_s: float, max_wait_s: float) -> float:
    """How long to wait before retrying an ordinary 429: until x-rate-limit-reset plus a margin. RateLimitedError
    when the answer gives no reset or the wait would take the call past `max_wait_s` in all."""
    advised = wait_s(429, headers, now_s)
    delay = None if advised is None else advised + RESET_MARGIN_S
    if delay is None or waited_s + delay > max_wait_s:
        raise RateLimitedError(_API, waited_s, delay)
    return delay


def mount(session: requests.Session, original: str, adapter: RedirectAdapter) -> None:
    """Route every request for `original` (e.g. https://api.twitter.com) through `adapter`."""
    session.mount(original.rstrip("/") + "/", adapter)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class _RedactBearer(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Bearer" in message:
            record.msg = _BEARER.sub(r"\1[redacted]", message)
            record.args = ()
        return True


_REDACT = _RedactBearer()


def install_log_redaction() -> None:
    """Scrub bearer tokens from tweepy's log records (idempotent)."""
    for name in _TWEEPY_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)
