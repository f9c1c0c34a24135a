"""Job ids: time-ordered and unique across processes without a round trip.

An id is 11 hex digits of milliseconds, 6 of a per-process sequence and 8 random ones. Ids minted by one
process sort in minting order, which keeps a tenant's batch FIFO when its jobs share a millisecond score.
"""

from __future__ import annotations

import itertools
import os
import time

_sequence = itertools.count()
_process_salt = os.urandom(2).hex()


def new_job_id() -> str:
    ms = time.time_ns() // 1_000_000
    return f"{ms:011x}{next(_sequence) & 0xFFFFFF:06x}{_process_salt}{os.urandom(2).hex()}"


def reseed_after_fork() -> None:
    """Give a forked child its own salt so two children never mint the same id."""
    global _process_salt
    _process_salt = os.urandom(2).hex()


os.register_at_fork(after_in_child=reseed_after_fork)
