"""Rich renderings for `ebbflow pack`: the installed packs, and what a submit queued."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic_core import PydanticUndefined
from rich.table import Table

from scheduler.job import SubmitResult
from workloads.pack import Pack, PackJobType, PlannedJob


def packs_table(packs: Mapping[str, Pack]) -> Table:
    table = Table(title="installed packs", title_justify="left")
    for column in ("pack", "job types", "parameters", "what it does"):
        table.add_column(column)
    for name in sorted(packs):
        pack = packs[name]
        types = "\n".join(_type_line(pack, job_type) for job_type in pack.job_types)
        table.add_row(name, types, "\n".join(param_lines(pack)), pack.description)
    return table


def param_lines(pack: Pack) -> list[str]:
    lines = []
    for name, field in pack.params.model_fields.items():
        default = "required" if field.default is PydanticUndefined and field.default_factory is None else None
        if default is None:
            value = field.get_default(call_default_factory=True)
            default = _list_default(value) if isinstance(value, list) else str(value)
        lines.append(f"{name}={default}")
    return lines


def _list_default(values: list[object]) -> str:
    """A long default list (hot-topics' 170 places) is summarised rather than printed whole."""
    if len(values) <= 6:
        return ",".join(map(str, values))
    return f"{','.join(map(str, values[:3]))},... ({len(values)} values)"


def _type_line(pack: Pack, job_type: PackJobType) -> str:
    details = [job_type.default_class or "default class", job_type.markets or "spot/on-demand by level"]
    return f"{pack.type_name(job_type.name)} ({', '.join(details)})"


def submitted_line(pack: Pack, planned: Sequence[PlannedJob], results: Sequence[SubmitResult]) -> str:
    created = sum(result.created for result in results)
    classes = sorted({job.job_class or "default" for job in planned})
    return (
        f"{pack.name}: planned {len(planned)} jobs (class {', '.join(classes) or '-'}): "
        f"{created} queued, {len(results) - created} already queued or running"
    )
