"""`--param k=v` pairs into a pack's typed parameters; every problem names the parameter and the fix."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from scheduler.errors import InvalidJobError


def parse_pairs(pairs: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidJobError("--param", f"{pair!r} is not KEY=VALUE (e.g. --param users=1,2,3)")
        if key.strip() in values:
            raise InvalidJobError(f"--param {key.strip()}", "is given twice; give it once")
        values[key.strip()] = value.strip()
    return values


def parse_params(model: type[BaseModel], pairs: Sequence[str]) -> BaseModel:
    values = parse_pairs(pairs)
    try:
        return model.model_validate(values)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        name = ".".join(str(part) for part in first["loc"]) or "params"
        known = ", ".join(model.model_fields)
        hint = f" (this pack's parameters: {known})" if first["type"] == "extra_forbidden" else ""
        raise InvalidJobError(f"--param {name}", f"{problem_of(first)}{hint}") from None


def problem_of(detail: ErrorDetails) -> str:
    """pydantic's message for one problem, without the "Value error, " it puts before a validator's own."""
    return detail["msg"].removeprefix("Value error, ")


def split_commas(value: object) -> object:
    """For list parameters: `--param users=1,2,3` arrives as one string."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value
