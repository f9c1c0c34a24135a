"""Turns a pydantic ValidationError on the settings into one readable line per problem.

Each line names the dotted field path, pydantic's statement of what is expected, and where the bad value
came from (the config file or the environment variable), because "which of my three places set this?" is
the first question a config error raises.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import SettingsError

# Model validators (SchedulerConfig._check_names) phrase their errors "field.path: problem"; that path
# is joined onto the location so the line names the real field.
_FIELD_PREFIX = re.compile(r"^(?P<field>[A-Za-z_][\w-]*(?:\.[\w-]+)*): (?P<problem>.+)$", re.DOTALL)
_SETTINGS_FIELD = re.compile(r'field "(?P<field>[^"]+)"')
_HINTS = {
    "extra_forbidden": "unknown setting; remove it or check its spelling",
    "missing": "required; add it",
}

Loc = tuple[str | int, ...]


def describe_validation_error(err: ValidationError, data: Mapping[str, Any], source: str | None, prefix: str) -> str:
    """The lines of a ConfigError: `config: <path>: <problem> (from <file or env var>)`, one per problem."""
    lines = []
    for detail in err.errors(include_url=False):
        loc, problem = _locate(detail)
        origin = _origin(loc, data, source, prefix)
        where = f"{dotted(loc)}: " if loc else ""
        lines.append(f"config: {where}{problem}" + (f" (from {origin})" if origin else ""))
    return "\n".join(dict.fromkeys(lines))  # unions can report one problem twice


def describe_settings_error(err: SettingsError, prefix: str) -> str:
    """The line for an environment variable that should hold JSON (a list or table) but does not parse."""
    match = _SETTINGS_FIELD.search(str(err))
    if match is None:
        return f"config: {err}"
    field = match["field"]
    names = sorted(name for name in os.environ if name.upper().startswith((prefix + field).upper()))
    origin = f" (from {', '.join(names)})" if names else ""
    return f"config: {field}: not valid JSON; lists and tables from the environment must be JSON text{origin}"


def dotted(loc: Sequence[str | int]) -> str:
    """('cron', 0, 'cron') -> 'cron[0].cron'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _locate(detail: ErrorDetails) -> tuple[Loc, str]:
    loc: Loc = tuple(detail["loc"])
    problem = _HINTS.get(detail["type"], detail["msg"].removeprefix("Value error, "))
    match = _FIELD_PREFIX.match(problem) if detail["type"] == "value_error" else None
    if match:
        loc += tuple(match["field"].split("."))
        problem = match["problem"]
    return loc, " ".join(problem.split())  # one line, whatever the message held


def _origin(loc: Loc, data: Mapping[str, Any], source: str | None, prefix: str) -> str | None:
    """The env var (checked first: it wins) or the file that supplied the value at `loc` or around it."""
    env = {name.upper(): name for name in os.environ}
    for depth in range(len(loc), 0, -1):
        if any(isinstance(part, int) for part in loc[:depth]):
            continue  # list items come from one JSON variable, named by a shorter prefix
        name = (prefix + "__".join(str(part) for part in loc[:depth])).upper()
        if name in env:
            return env[name]
    # Not from the environment: then from the file if it has that table at all (defaults are valid).
    return source if source is not None and bool(loc) and loc[0] in data else None
