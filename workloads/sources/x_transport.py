"""Plumbing under tweepy: send its requests to our base URL, bound its rate-limit waits, keep tokens out of logs.

tweepy hardcodes https://api.twitter.com (tweepy.Client.request) and https://{host} (tweepy.API.request), so the
emulator is reached by mounting `RedirectAdapter` on their requests sessions: it rewrites scheme and host of each
request just before it is sent. The same adapter sees every 429 and charges the wait it advises to a
`WaitBudget`, because tweepy's wait_on_rate_limit otherwise sleeps and retries forever; past the budget it
raises RateLimitedError. tweepy.Client logs request headers, bearer token included, at DEBUG:
`install_log_redaction` scrubs them from its records.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters
import requests.utils

from workloads.sources.errors import RateLimitedError
from workloads.sources.ratelimit import wait_s

_BEARER = re.compile(r"(Bearer\s+)[^\s'\",}]+")
_TWEEPY_LOGGERS = ("tweepy.client", "tweepy.api")


class WaitBudget:
    """Seconds of rate-limit waiting one adapter call may spend, charged by `RedirectAdapter` on each 429."""

    def __init__(self, max_wait_s: float) -> None:
        self.max_wait_s = max_wait_s
        self.waited_s = 0.0

    def reset(self) -> None:
        self.waited_s = 0.0

    def charge(self, advised_s: float | None) -> None:
        """Account for a wait tweepy is about to make; RateLimitedError when it would exceed the budget."""
        if advised_s is None or self.waited_s + advised_s > self.max_wait_s:
            raise RateLimitedError("x", self.waited_s, advised_s)
        self.waited_s += advised_s


class RedirectAdapter(requests.adapters.HTTPAdapter):
    """Sends requests meant for the real API to `base_url` instead, with a default timeout."""

    def __init__(self, base_url: str, budget: WaitBudget, timeout_s: float) -> None:
        super().__init__()
        target = urlsplit(base_url.rstrip("/"))
        self._scheme, self._netloc, self._prefix = target.scheme, target.netloc, target.path
        self._budget = budget
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
            try:
                self._budget.charge(wait_s(429, response.headers, time.time()))
            except RateLimitedError:
                response.close()  # nobody else will read it once we raise
                raise
        return response


def mount(session: requests.Session, original: str, adapter: RedirectAdapter) -> None:
    """Route every request for `original` (e.g. https://api.twitter.com) through `adapter`."""
    session.mount(original.rstrip("/") + "/", adapter)


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
