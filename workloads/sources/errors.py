"""Errors raised by the source adapters (Graph, X, video pages).

SourceError                    root: catch this to catch everything below
├── RateLimitedError           still throttled after waiting as long as we were allowed to
│   └── UsageCappedError       a quota for these credentials is spent until a reset hours or days away: hold
│                              the key, never sleep on it (X's usage cap, the Data API's daily quota)
├── SourceUnavailableError     5xx answers or connection errors, after retries
├── BadResponseError           the answer is not of the expected shape (JSON, fields, types)
├── NotFoundError              the user (or object) does not exist
└── AccessDeniedError          the credentials were refused (401/403)

Messages name the API and what failed, never a credential: they end up in job errors and logs.
"""

from __future__ import annotations


class SourceError(Exception):
    """Root of every error the source adapters raise."""


class RateLimitedError(SourceError):
    """The API kept answering 429 beyond the adapter's maximum total wait."""

    def __init__(self, api: str, waited_s: float, advised_s: float | None) -> None:
        advice = "no retry advice" if advised_s is None else f"next retry advised in {advised_s:.1f} s"
        super().__init__(f"{api}: still rate limited after waiting {waited_s:.1f} s ({advice})")
        self.api = api
        self.waited_s = waited_s
        self.advised_s = advised_s


class SourceUnavailableError(SourceError):
    """The API answered 5xx or could not be reached, even after retries."""


class BadResponseError(SourceError):
    """The API answered, but not with the shape we expect (so parsing cannot go on)."""


class NotFoundError(SourceError, LookupError):
    """The user or object asked about does not exist (or is not visible to us)."""


class AccessDeniedError(SourceError):
    """The API refused the credentials (401/403); retrying will not help."""


class UsageCappedError(RateLimitedError):
    """The credentials' quota (a monthly or daily cap, not a short rate window) is spent: no wait within a job
    helps, so the adapter raises at once. `resets_at_s` is when the API says it refills (epoch s), if it says."""

    def __init__(self, api: str, detail: str, resets_at_s: float | None = None) -> None:
        SourceError.__init__(self, f"{api}: usage cap reached ({detail}); not waiting for it")
        self.api = api
        self.waited_s = 0.0
        self.advised_s = None
        self.detail = detail
        self.resets_at_s = resets_at_s
