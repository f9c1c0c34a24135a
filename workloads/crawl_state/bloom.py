"""The Bloom filter's arithmetic, kept out of Redis: its size from (max_videos, bloom_error), and a video's bit
positions. The positions are computed here and passed to the Lua scripts, which only test and set bits.

Size: m = -n ln p / (ln 2)^2 bits and k = round(m / n * ln 2) hashes, the textbook optimum for n videos at a
false-positive rate p. A filter is never smaller than MIN_BITS: a crawl capped at a few videos would otherwise
get a filter of a few dozen bits, where one unlucky collision is a large part of it. Nor larger than MAX_BITS,
the most a Redis string holds (512 MB).

Positions: double hashing (Kirsch and Mitzenmacher), g_i = (h1 + i * h2) mod m for i < k, from one 128-bit
BLAKE2b digest (in the standard library, and well mixed). h1 and h2 are reduced mod m first, so every term stays
below 2^38: a vectorized numpy version in 64-bit integers gives the same positions (bench/dedupe_load.py).
The script gets each video's positions as one string, "p1,p2,...": one argument instead of k is cheaper to
send, and Lua hands the digits to SETBIT as they are (a Lua number would be formatted back with sprintf).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from hashlib import blake2b

MIN_BITS = 1024
MAX_BITS = 2**32  # 512 MB, a Redis string's limit


@dataclass(frozen=True, slots=True)
class BloomShape:
    bits: int  # m: the filter's size in bits
    hashes: int  # k: bits set per video


EXACT = BloomShape(bits=0, hashes=0)  # dedupe "set": no filter, the ids themselves


def bloom_shape(max_videos: int, error: float) -> BloomShape:
    """The filter for max_videos videos at this false-positive rate; ValueError if Redis cannot hold it."""
    optimal = -max_videos * math.log(error) / math.log(2) ** 2
    bits = max(math.ceil(optimal), MIN_BITS)
    if bits > MAX_BITS:
        raise ValueError(f"a Bloom filter for {max_videos:,} videos at {error} needs {bits:,} bits, over 2^32")
    return BloomShape(bits=bits, hashes=max(1, round(optimal / max_videos * math.log(2))))


def video_hashes(video: str) -> tuple[int, int]:
    """(h1, h2): the two 64-bit halves of the video's digest."""
    digest = blake2b(video.encode(), digest_size=16).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little")


def bit_positions(video: str, shape: BloomShape) -> list[int]:
    """The shape.hashes bits that stand for this video."""
    h1, h2 = video_hashes(video)
    first, step = h1 % shape.bits, h2 % shape.bits
    return [(first + i * step) % shape.bits for i in range(shape.hashes)]


def positions_arg(video: str, shape: BloomShape) -> str:
    """bit_positions as the scripts take them: "p1,p2,..."."""
    return ",".join(map(str, bit_positions(video, shape)))
