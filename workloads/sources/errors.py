"""Errors raised by the source adapters (Graph, X, video pages).

SourceError                    root: catch this to catch everything below
├── RateLimitedError           still throttled after waiting as long as we were allowed to
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
