"""What every adapter shares: `with Adapter(...) as a:` closes it; the httpx-based ones own their client
unless one was passed in (tests pass a client with a MockTransport or shared limits), and close only their own."""

from __future__ import annotations

from typing import Self

import httpx


class Closing:
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


class HttpSource(Closing):
    def __init__(self, client: httpx.Client | None, timeout_s: float) -> None:
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        """Close the HTTP client, if this object created it."""
        if self._owns_client:
            self._client.close()
