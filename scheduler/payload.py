"""Payloads and checkpoints are JSON, checked on the way in: parsed, size-limited, re-encoded compactly.

Nothing read back from a store is ever unpickled: records are JSON text.
"""

from __future__ import annotations

import json

from scheduler.errors import PayloadError
from scheduler.job import JSONValue

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
MAX_DEPTH = 32  # arrays and objects nested deeper are refused: no job needs it, and a parser's stack would


def encode(value: JSONValue, field: str, max_bytes: int) -> str:
    """Compact JSON text for `value`, or PayloadError naming `field`."""
    _check_depth(value, field)
    try:
        text = _encoder.encode(value)
    except (TypeError, ValueError) as err:
        raise PayloadError(
            field, f"must be JSON (objects, arrays, strings, finite numbers, true/false/null): {err}"
        ) from err
    size = len(text.encode()) if not text.isascii() else len(text)
    if size > max_bytes:
        raise PayloadError(
            field, f"is {size} bytes of JSON; the limit is {max_bytes} (store big data elsewhere, pass a reference)"
        )
    return text


def parse(text: str, field: str) -> JSONValue:
    """Parse JSON text a user typed (CLI, file), naming `field` in the error."""
    try:
        value: JSONValue = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as err:
        raise PayloadError(field, f"is not valid JSON: {err}") from None
    except RecursionError:
        raise PayloadError(field, f"nests arrays or objects deeper than {MAX_DEPTH} levels; flatten it") from None
    _check_depth(value, field)
    return value


def _check_depth(value: JSONValue, field: str) -> None:
    """Level by level rather than recursively, so a value nested thousands deep is refused, not a crash."""
    level: list[object] = [value]
    depth = 0
    while True:
        containers = [item for item in level if isinstance(item, dict | list | tuple)]
        if not containers:
            return
        depth += 1
        if depth > MAX_DEPTH:
            raise PayloadError(field, f"nests arrays or objects deeper than {MAX_DEPTH} levels; flatten it")
        level = [child for item in containers for child in (item.values() if isinstance(item, dict) else item)]


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")
