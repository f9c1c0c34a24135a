"""Opaque cursors and small helpers shared by the emulated APIs.

Cursors are base64url text like the real ones, so clients cannot lean on their content; inside they hold an
offset or an id.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping


def encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """The value inside a cursor, or None when the cursor was not made by `encode_cursor`."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(text) if text.isdecimal() and text.isascii() else None


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int | None:
    """An integer query parameter within [low, high], the default when absent, None when invalid."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdecimal() or not raw.isascii():
        return None
    value = int(raw)
    return value if low <= value <= high else None


def iso_seconds(ms: int, suffix: str = "+0000") -> str:
    """Epoch ms as Graph writes times ("2026-11-01T12:00:00+0000")."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + suffix


def iso_millis(ms: int) -> str:
    """Epoch ms as X v2 writes times ("2026-11-01T12:00:00.000Z")."""
    return f"{iso_seconds(ms, '')}.{ms % 1000:03d}Z"
