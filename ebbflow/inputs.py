"""Reading what a user typed on the command line into the values the scheduler takes."""

from __future__ import annotations

from pathlib import Path

from scheduler.errors import InvalidJobError
from scheduler.job import JSONValue
from scheduler.payload import parse

FILE_MARK = "@"


def read_payload(text: str | None) -> JSONValue:
    """JSON text, or `@path` to read it from a file; None when no payload was given."""
    if text is None:
        return None
    if text.startswith(FILE_MARK):
        path = Path(text.removeprefix(FILE_MARK))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) else str(err)
            raise InvalidJobError("payload", f"cannot read {str(path)!r}: {reason}") from None
    return parse(text, "payload")
