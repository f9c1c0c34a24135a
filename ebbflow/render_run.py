"""Rich output for running jobs: the worker's progress display, its counts, and the demo's report."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from ebbflow.durations import format_duration_ms
from ebbflow.local_worker import RunRecord, WorkerCounts
from ebbflow.queue_demo import DemoSubmission, LevelSummary
from ebbflow.render import level_name
from scheduler.config import SchedulerConfig


@contextmanager
def worker_progress(console: Console, total: int | None) -> Iterator[Callable[[RunRecord], None]]:
    """A progress bar for the duration of the block; call the yielded function once per finished job."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("running jobs", total=total or None)
        failed = 0

        def advance(record: RunRecord) -> None:
            nonlocal failed
            failed += record.outcome != "done"
            seen = progress.tasks[0].completed + 1
            # More jobs can arrive while we work; grow the bar rather than overflow it.
            grown = None if total is None else max(total, seen)
            progress.update(task, advance=1, total=grown, description=f"running jobs ({failed} not done)")

        yield advance


def worker_counts(counts: WorkerCounts) -> Text:
    stopped = " (stopped by Ctrl-C)" if counts.interrupted else ""
    waited = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.outages.items()))
    outages = f"; store outages waited out: {waited}" if waited else ""
    return Text(
        f"leased {counts.leased}: done {counts.done}, failed and retrying {counts.retried}, "
        f"dead-lettered {counts.dead}, lease lost {counts.lost}, released on stop {counts.released}{stopped}"
        f"{outages}"
    )


def demo_submission(sub: DemoSubmission, expected_refusals: int) -> RenderableType:
    lines = [
        Text(f"queued {len(sub.created)} jobs; {sub.repeated} repeated idempotency keys returned the existing job"),
        *(Text(f"refused as expected: {message}") for message in sub.refused),
    ]
    if len(sub.refused) != expected_refusals:
        lines.append(Text(f"{expected_refusals - len(sub.refused)} invalid submissions were NOT refused", "bold red"))
    return Group(*lines)


def demo_summary(
    summaries: Sequence[LevelSummary],
    order: Sequence[tuple[int, int]],
    dead: int,
    others: int,
    config: SchedulerConfig,
) -> RenderableType:
    headers = ("Done", "Wait p50", "Wait p99", "Run p50")
    table = Table("Level", *(Column(h, justify="right") for h in headers), title="Demo jobs per level")
    for s in summaries:
        table.add_row(
            level_name(config, s.level),
            str(s.done),
            format_duration_ms(s.wait.p50_ms),
            format_duration_ms(s.wait.p99_ms),
            format_duration_ms(s.run.p50_ms),
        )
    served = " → ".join(f"{level_name(config, level)} ×{count}" for level, count in order)
    parts: list[RenderableType] = [table, Text(f"serve order, lease by lease: {served}"), Text(f"dead letters: {dead}")]
    if others:
        parts.append(Text(f"the worker also ran {others} jobs that were queued before the demo"))
    return Group(*parts)
