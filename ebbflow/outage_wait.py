"""Waiting out a store outage in `ebbflow work`: a store call that finds the store unavailable (unreachable,
or Redis refusing with BUSY, OOM, LOADING, READONLY, MASTERDOWN) is tried again with backoff until the store
answers or the outage has lasted `limit_s`, as the head's dispatcher does (dispatcher.Dispatcher._ride_out).

Every store call the worker makes is safe to try again: a lease, heartbeat, ack or fail that Redis refused
did nothing, and one whose reply was lost is fenced by its lease token.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from scheduler.errors import StoreUnavailableError

T = TypeVar("T")
log = logging.getLogger(__name__)
FIRST_WAIT_S = 0.1
MAX_WAIT_S = 2.0


@dataclass
class OutageRider:
    limit_s: float = 120.0  # past this the error is raised: the service manager restarts the worker
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    outages: Counter[str] = field(default_factory=Counter)  # by reason: connection, busy, oom, ...

    def call(self, store_call: Callable[[], T]) -> T:
        """`store_call()`, tried again through a store outage of up to `limit_s`."""
        try:
            return store_call()
        except StoreUnavailableError as error:
            return self._wait_out(store_call, error)

    def _wait_out(self, store_call: Callable[[], T], error: StoreUnavailableError) -> T:
        started, wait_s = self.clock(), FIRST_WAIT_S
        self.outages[error.reason] += 1
        log.warning("store unavailable (%s: %s): waiting up to %.0f s", error.reason, error, self.limit_s)
        while True:
            if self.clock() - started > self.limit_s:
                raise error
            self.sleep(wait_s)
            try:
                result = store_call()
            except StoreUnavailableError as again:
                if again.reason != error.reason:
                    log.warning("store still unavailable, now %s: %s", again.reason, again)
                error, wait_s = again, min(wait_s * 2, MAX_WAIT_S)
                continue
            log.info("store back after %.1f s (%s)", self.clock() - started, error.reason)
            return result
