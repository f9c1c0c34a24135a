"""Durations as people type them ("30s", "5m", "2h", "1d", plain numbers are seconds) and as we print them."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    _FloatParam = click.ParamType[float]
else:  # click before 8.2 has no generic ParamType; subscripting it would fail at import
    _FloatParam = click.ParamType

UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s|m|h|d)?\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError with an example of what is accepted."""
    match = _DURATION.match(text)
    seconds = float(match["number"]) * UNITS_S[(match["unit"] or "s").lower()] if match else math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration such as 30s, 5m, 2h, 1d or 90 (seconds)")
    return seconds


def format_duration_ms(ms: float | None) -> str:
    """A short human reading of a duration: '850 ms', '12.3 s', '4m 05s', '3h 20m', '2d 4h'; '-' for None."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


class Duration(_FloatParam):
    """A click option type that reads a duration into seconds; a bad one names the option."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)


DURATION = Duration()
