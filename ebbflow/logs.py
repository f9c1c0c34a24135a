"""Log output of the long-running commands (`ebbflow head`): text lines for a terminal, or one JSON object per
line for a log shipper (`--log-format json`, `head.log_format`).

A JSON line holds ts (ISO 8601, UTC, milliseconds), level, logger, message, every field the call passed with
`extra=`, and `exception` (the formatted traceback) when one was logged. This is the standard library's
logging with one formatter: every module here already logs through it, and JSON output needs nothing more,
so structlog or python-json-logger would be a dependency to configure for the same thirty lines.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import IO, Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every record has; whatever else a record carries came from `extra=`, or is private (Ray's record
# factory stamps `_ray_timestamp_ns` on every record in a process that imported it). Computed, not listed, so a
# Python that adds one (3.12's taskName) does not leak it into every line.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                line.setdefault(key, value)  # an extra named like a field above never hides that field
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)  # an extra JSON cannot hold (an enum, an error) goes as its str


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(
    level: str, log_format: LogFormat, logger: logging.Logger | None = None, stream: IO[str] | None = None
) -> logging.Handler:
    """Send `logger` (the root by default) at `level` and above to `stream` (stderr by default) in `log_format`;
    returns the handler added, so a caller that is done can remove it."""
    target = logger if logger is not None else logging.getLogger()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(log_format))
    target.addHandler(handler)
    target.setLevel(level.upper())
    return handler
