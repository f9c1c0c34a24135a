"""One leader among the heads: which head runs the singletons (the autoscaler, the scheduler's maintenance, cron).

Every head calls `step()` each round. A standby tries to take the leader lease (scheduler.leader) every
`renew_every_s`; the leader renews it as often. The store decides who holds it and when it lapses; this
process only decides when to stop trusting its own hold: `ttl_s - renew_every_s` after it last sent a renew
that succeeded, on its monotonic clock. The store cannot expire the lease before `ttl_s` after it received
that renew, which came after it was sent, so the leader stops acting at least `renew_every_s` before another
head could take over, however slow its rounds or its store calls are (Kubernetes' renew deadline).

A killed leader's lease lapses after `ttl_s`; a standby sees it within one more `renew_every_s`. A leader
that stops cleanly releases the lease, and a standby takes it at its next try.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from scheduler.errors import StoreUnavailableError
from scheduler.leader import LeaderLease, NotLeaderError

log = logging.getLogger(__name__)


def _nothing(*_: object) -> None:
    return None


class Leadership:
    """This head's side of the leader lease: whether it leads now, and what it does on taking and losing it."""

    def __init__(
        self,
        lease: LeaderLease,
        holder: str,
        ttl_s: float,
        renew_every_s: float,
        *,
        on_gain: Callable[[int], None] = _nothing,
        on_loss: Callable[[], None] = _nothing,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < renew_every_s * 2 <= ttl_s:
            raise ValueError(f"renew_every_s ({renew_every_s}) must be positive and at most half of ttl_s ({ttl_s})")
        self.lease = lease
        self.holder = holder
        self.ttl_ms = round(ttl_s * 1000)
        self.renew_every_s = renew_every_s
        self.deadline_s = ttl_s - renew_every_s  # trusted this long after a renew was sent
        self.on_gain = on_gain
        self.on_loss = on_loss
        self.monotonic = monotonic
        self.token: int | None = None  # the fencing token while it leads
        self.changes = 0  # times this head took or lost the lease
        self._valid_until = -math.inf
        self._next_try = -math.inf
        self._stopped = False

    @property
    def is_leader(self) -> bool:
        return self.token is not None and self.monotonic() < self._valid_until

    def step(self) -> None:
        """Renew (leader) or try to take (standby) the lease, at most once per renew_every_s."""
        now = self.monotonic()
        if self._stopped:
            return
        if self.token is not None and now >= self._valid_until:
            self._lose(f"not renewed within {self.deadline_s:g} s")
        if now < self._next_try:
            return
        self._next_try = now + self.renew_every_s
        try:
            if self.token is None:
                self._try_to_take(now)
            elif self.lease.renew(self.holder, self.token, self.ttl_ms):
                self._valid_until = now + self.deadline_s
            else:
                self._lose("another head holds the lease")
        except StoreUnavailableError as err:  # a leader stops by itself at its deadline; a standby waits
            log.warning("leader lease: the store is unavailable (%s); trying again in %g s", err, self.renew_every_s)

    def deposed(self, reason: str) -> None:
        """A fenced write was refused: another head leads now."""
        if self.token is not None:
            self._lose(reason)

    def release(self) -> None:
        """A clean stop: give the lease up, so a standby takes over at its next try rather than after the TTL;
        this head does not try to take it again."""
        self._stopped = True
        self._give_back("it stops")

    def while_leader(self, hook: Callable[[], Any]) -> Callable[[], None]:
        """`hook`, run only while this head leads (a standby skips it, and its period does not advance)."""

        @functools.wraps(hook)
        def run() -> None:
            if self.is_leader:
                hook()

        return run

    def fenced(self, action: Callable[[], Any]) -> Callable[[], Any]:
        """`action`, with NotLeaderError (its fenced write refused) taken as losing the lease."""

        @functools.wraps(action)
        def run() -> Any:
            try:
                return action()
            except NotLeaderError as err:
                self.deposed(str(err))
                return None

        return run

    def _try_to_take(self, now: float) -> None:
        token = self.lease.acquire(self.holder, self.ttl_ms)
        if token is None:
            return
        self.token, self._valid_until = token, now + self.deadline_s
        self.changes += 1
        log.info("leader lease: %s leads now (fencing token %d)", self.holder, token, extra={"token": token})
        try:
            self.on_gain(token)
        except StoreUnavailableError as err:  # it could not read what it needs to lead: let another head
            log.warning("leader lease: taking over failed (%s); giving the lease back", err)
            self._give_back("taking over failed")

    def _give_back(self, reason: str) -> None:
        token = self.token
        if token is None:
            return
        self._lose(f"{reason}: it gives the lease up", logging.INFO)
        try:  # compare and delete: harmless if the lease has moved on meanwhile
            self.lease.release(self.holder, token)
        except StoreUnavailableError as err:
            log.warning("leader lease: not released (%s); it lapses after its TTL", err)

    def _lose(self, reason: str, level: int = logging.WARNING) -> None:
        token, self.token, self._valid_until = self.token, None, -math.inf
        self.changes += 1
        log.log(level, "leader lease: %s no longer leads (token %s): %s", self.holder, token, reason)
        self.on_loss()
