"""Ids of the world: decimal user ids, 11-character video ids, and time-ordered snowflake ids for X.

A video id is its index scrambled by a seeded 64-bit bijection and written in base64url, so ids look like real
YouTube ids, carry no visible order, and decode back to their index (an id that does not decode to an index
below `videos` is not in the world).
"""

from __future__ import annotations

import base64
from functools import lru_cache

from workloads.world.hashing import MASK64, h64, mix64, unmix64

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_DIGIT = {c: i for i, c in enumerate(ALPHABET)}
VIDEO_ID_LEN = 11

# X's snowflake epoch (2010-11-04): ids are (ms since it) << 22 | 22 low bits, so they sort by time.
TWEPOCH_MS = 1_288_834_974_657
_SNOWFLAKE_LOW = (1 << 22) - 1
_WORKER_MASK = (1 << 10) - 1
_SEQUENCE_MASK = (1 << 12) - 1
MAX_SEQUENCE = _SEQUENCE_MASK + 1


def video_id(seed: int, index: int) -> str:
    """The 11-character id of video `index` in a world with this seed."""
    # 11 base64url digits of the scrambled 64 bits (as a 66-bit number), via the C encoder: 9 bytes hold the
    # 66 bits shifted left by 6, and the 12th digit (those 6 zero bits) is dropped.
    x = mix64(index ^ _video_key(seed))
    return base64.urlsafe_b64encode((x << 6).to_bytes(9, "big"))[:VIDEO_ID_LEN].decode()


def video_index(seed: int, vid: str) -> int | None:
    """The index `video_id` was made from, or None when `vid` cannot be an id of a world with this seed."""
    if len(vid) != VIDEO_ID_LEN:
        return None
    x = 0
    for c in vid:
        digit = _DIGIT.get(c)
        if digit is None:
            return None
        x = (x << 6) | digit
    if x > MASK64:  # 11 base64 digits hold 66 bits; ids made here use only 64
        return None
    return unmix64(x) ^ _video_key(seed)


def user_number(user_id: str, users: int) -> int | None:
    """The number of a user id ("1".."users"), or None for anything else ("007", "0", "abc", too large)."""
    if not user_id.isdecimal() or not user_id.isascii() or user_id.startswith("0") or len(user_id) > 12:
        return None
    n = int(user_id)
    return n if n <= users else None


def snowflake(created_ms: int, seed: int, kind: str, *parts: int | str) -> int:
    """A time-ordered id: ms since TWEPOCH in the high bits, a hash of what it names in the low 22."""
    return ((created_ms - TWEPOCH_MS) << 22) | (h64(seed, kind, *parts) & _SNOWFLAKE_LOW)


def sequenced_snowflake(created_ms: int, worker: int, sequence: int) -> int:
    """A time-ordered id laid out like X's own: ms since TWEPOCH, a 10-bit worker id and a 12-bit sequence number.
    Unique by construction as long as each worker numbers its ids of one millisecond below 4096."""
    return ((created_ms - TWEPOCH_MS) << 22) | (worker & _WORKER_MASK) << 12 | (sequence & _SEQUENCE_MASK)


def snowflake_ms(snowflake_id: int) -> int:
    """The creation time (epoch ms) encoded in a snowflake id."""
    return (snowflake_id >> 22) + TWEPOCH_MS


@lru_cache(maxsize=16)
def _video_key(seed: int) -> int:
    return h64(seed, "video-key") & MASK64
