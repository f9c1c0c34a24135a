"""Hours as the hot-topics pack names them: the start of a UTC hour in epoch milliseconds, a label
(`2026-12-01T05`) for ranking names and the CLI, and the archive's date=/hour= partition folders."""

from __future__ import annotations

from datetime import UTC, datetime

HOUR_MS = 3_600_000
LABEL_FORMAT = "%Y-%m-%dT%H"


def hour_start(ms: int) -> int:
    return ms - ms % HOUR_MS


def label(hour_ms: int) -> str:
    return datetime.fromtimestamp(hour_ms / 1000, UTC).strftime(LABEL_FORMAT)


def parse_hour(text: str) -> int:
    """`2026-12-01T05`, `2026-12-01T05:00`, `2026-12-01 05:00:00Z` or any ISO 8601 time (UTC unless it says
    otherwise) -> the start of its hour. ValueError names the accepted forms."""
    cleaned = text.strip().replace(" ", "T")
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    if len(cleaned) == len("2026-12-01T05"):
        cleaned += ":00"
    try:
        when = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(f"{text!r} is not an hour; give it like 2026-12-01T05 (UTC)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return hour_start(round(when.timestamp() * 1000))


def partition(hour_ms: int) -> str:
    """The archive folders of one hour: `date=2026-12-01/hour=05`."""
    when = datetime.fromtimestamp(hour_ms / 1000, UTC)
    return f"date={when:%Y-%m-%d}/hour={when:%H}"
