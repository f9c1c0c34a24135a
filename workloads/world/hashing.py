"""Deterministic randomness: every draw is a hash of (seed, kind, ids), never a stored table or a shared RNG.

That is what lets a world of 100k users and 1M videos cost no memory, and lets any process compute any corner of
it in any order: the degree of user 4711 does not depend on whether users 1..4710 were looked at first.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterator
from statistics import NormalDist

MASK64 = (1 << 64) - 1
_TWO64 = float(1 << 64)
_NORMAL = NormalDist()


def h64(seed: int, kind: str, *parts: int | str) -> int:
    """A 64-bit hash of the seed, the kind of draw and the ids it is about."""
    key = f"{seed}|{kind}|{'|'.join(map(str, parts))}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


def draw_records(layout: str, count: int, seed: int, kind: str, *parts: int | str) -> Iterator[tuple[int, ...]]:
    """`count` records of small draws laid out as the struct format `layout` (e.g. "<H7BHBI"), read off one
    extendable-output hash (SHAKE-128) of the seed, kind and ids. One hash for a whole batch, and draws no wider
    than they need to be, for the corner of the world that needs ~100k draws an hour (tweets)."""
    key = f"{seed}|{kind}|{'|'.join(map(str, parts))}".encode()
    stream = hashlib.shake_128(key).digest(struct.calcsize(layout) * count)
    return struct.iter_unpack(layout, stream)


def unit(seed: int, kind: str, *parts: int | str) -> float:
    """A uniform draw in [0, 1)."""
    return h64(seed, kind, *parts) / _TWO64


def normal(seed: int, kind: str, *parts: int | str) -> float:
    """A standard normal draw (inverse CDF of a uniform kept strictly inside (0, 1))."""
    u = (h64(seed, kind, *parts) + 0.5) / _TWO64
    return _NORMAL.inv_cdf(u)


def zipf_index(u: float, n: int) -> int:
    """Map a uniform draw to an index in [0, n) with P(i) roughly proportional to 1/(i+1) (Zipf, s=1).

    `n ** u` is log-uniform on [1, n), whose floor has exactly that shape, at the cost of one power: cheap enough
    to pick a shared video per post.
    """
    return min(n - 1, int(n**u) - 1)


def poisson(u: float, mean: float, cap: int) -> int:
    """Inverse-CDF Poisson draw (small means only: it walks the CDF), capped at `cap`."""
    p = math.exp(-mean)
    total = p
    k = 0
    while u > total and k < cap:
        k += 1
        p *= mean / k
        total += p
    return k


# splitmix64's finalizer is a bijection on 64-bit integers; keeping its inverse lets a video id be decoded back
# to its index, so `video(id)` can tell an id of this world from a made-up one without any table.
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB
_C1_INV = pow(_C1, -1, 1 << 64)
_C2_INV = pow(_C2, -1, 1 << 64)


def mix64(x: int) -> int:
    """Scramble 64 bits reversibly (see `unmix64`)."""
    x ^= x >> 30
    x = (x * _C1) & MASK64
    x ^= x >> 27
    x = (x * _C2) & MASK64
    return x ^ (x >> 31)


def unmix64(x: int) -> int:
    """The inverse of `mix64`."""
    x = _unxorshift(x, 31)
    x = (x * _C2_INV) & MASK64
    x = _unxorshift(x, 27)
    x = (x * _C1_INV) & MASK64
    return _unxorshift(x, 30)


def _unxorshift(y: int, shift: int) -> int:
    x = y
    for _ in range(64 // shift + 1):
        x = y ^ (x >> shift)
    return x
