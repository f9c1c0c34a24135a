"""Rich renderings of the queue's state for the CLI. Pure: data in, renderables out (printing is the caller's)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.console import Console, Group, RenderableType
from rich.table import Column, Table
from rich.text import Text

from ebbflow.crons import TickResult, next_tick_ms
from ebbflow.durations import format_duration_ms
from ebbflow.reports import HistoryRow, level_status, type_counts
from scheduler.config import SchedulerConfig
from scheduler.cron import CronSchedule
from scheduler.job import UNREADABLE_TYPE, Job, SubmitResult
from scheduler.queue import MaintenanceReport
from scheduler.store import Move, QueueStats

PIPE_WIDTH = 160  # output to a pipe or file: wide enough that ids and reasons are never folded
ERROR_PREVIEW_CHARS = 60


def make_console() -> Console:
    # Resolved per command so click's test runner (which swaps sys.stdout) captures the output.
    return Console(width=None if sys.stdout.isatty() else PIPE_WIDTH, highlight=False)


def level_name(config: SchedulerConfig, level: int) -> str:
    return config.level_name(level) if 0 <= level < len(config.levels) else f"level {level}"


def iso_ms(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _num(header: str) -> Column:
    return Column(header, justify="right")


def submit_line(result: SubmitResult) -> str:
    return f"{result.job_id} {'created' if result.created else 'already existed (same idempotency key)'}"


def status(stats: QueueStats, config: SchedulerConfig, now_ms: int) -> RenderableType:
    by_type = Table("Level", "Type", _num("Pending"), _num("Running"), title="Jobs by level and type")
    for level, job_type, pending, running in type_counts(stats):
        by_type.add_row(level_name(config, level), job_type, str(pending), str(running))
    by_level = Table(
        "Level", _num("Pending"), _num("Running"), _num("Oldest wait"), title="Levels (served top to bottom)"
    )
    rows = level_status(stats, len(config.levels), now_ms)
    for row in rows:
        wait = format_duration_ms(row.oldest_wait_ms)
        by_level.add_row(level_name(config, row.level), str(row.pending), str(row.running), wait)
    by_level.add_section()
    by_level.add_row("total", str(sum(r.pending for r in rows)), str(sum(r.running for r in rows)), "")
    footer = Text(f"delayed (waiting to retry): {stats.delayed}    dead letters: {stats.dead}")
    return Group(by_type if by_type.row_count else Text("no jobs pending or running"), by_level, footer)


def job_detail(job: Job, config: SchedulerConfig) -> Table:
    table = Table("Field", "Value", title=f"Job {job.id}", show_lines=False)
    for name, value in _job_fields(job, config):
        table.add_row(name, value)
    return table


def _unreadable(job: Job) -> bool:
    """A job whose stored record no longer decodes: what only the record held is unknown."""
    return job.type == UNREADABLE_TYPE


def _max_attempts(job: Job) -> str:
    return "?" if _unreadable(job) else str(job.max_attempts)


def _job_fields(job: Job, config: SchedulerConfig) -> list[tuple[str, str]]:
    lease = job.lease
    return [
        ("id", job.id),
        ("state", job.state.value),
        ("type", job.type),
        ("tenant", job.tenant),
        ("class", job.job_class),
        ("level", level_name(config, job.level)),
        ("submitted level", level_name(config, job.submitted_level)),
        ("attempts", f"{job.attempts} of {_max_attempts(job)}"),
        ("preemptions", str(job.preemptions)),
        ("key", job.key or "-"),
        ("created", "-" if _unreadable(job) else iso_ms(job.created_ms)),
        ("enqueued", iso_ms(job.enqueued_ms)),
        ("deadline", iso_ms(job.deadline_ms)),
        ("finished", iso_ms(job.finished_ms)),
        ("lease", "-" if lease is None else f"token {lease.token} held by {lease.worker}"),
        ("leased", "-" if lease is None else iso_ms(lease.leased_ms)),
        ("lease expires", "-" if lease is None else iso_ms(lease.expires_ms)),
        ("error", job.error or "-"),
        ("checkpoint", _pretty(job.checkpoint)),
        ("progress", _pretty(job.progress)),
        ("payload", _pretty(job.payload)),
    ]


def _pretty(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def dead_letters(jobs: Sequence[Job], config: SchedulerConfig) -> RenderableType:
    if not jobs:
        return Text("no dead letters")
    table = Table("Id", "Type", "Tenant", "Level", "Attempts", "Died", "Error", title="Dead letters (newest first)")
    for job in jobs:
        table.add_row(
            job.id,
            job.type,
            job.tenant,
            level_name(config, job.level),
            f"{job.attempts}/{_max_attempts(job)}",
            iso_ms(job.finished_ms),
            _last_line(job.error),
        )
    return table


def _last_line(error: str | None) -> str:
    # A traceback's last line names the exception; that is the part worth a table cell.
    lines = (error or "-").strip().splitlines() or ["-"]
    line = lines[-1]
    return line if len(line) <= ERROR_PREVIEW_CHARS else line[: ERROR_PREVIEW_CHARS - 1] + "…"


def history(rows: Sequence[HistoryRow], config: SchedulerConfig, window_s: float) -> RenderableType:
    window = format_duration_ms(window_s * 1000)
    if not rows:
        return Text(f"no jobs leased in the last {window}")
    headers = ("Leased", "Finished", "Per min", "Wait p50", "Wait p99", "Run p50", "Run p99")
    table = Table("Type", "Level", *map(_num, headers), title=f"History over the last {window}")
    for row in rows:
        table.add_row(
            row.type,
            level_name(config, row.level),
            str(row.leased),
            str(row.finished),
            f"{row.per_minute:.1f}",
            format_duration_ms(row.wait.p50_ms),
            format_duration_ms(row.wait.p99_ms),
            format_duration_ms(row.run.p50_ms),
            format_duration_ms(row.run.p99_ms),
        )
    return table


def moves(entries: Sequence[Move], config: SchedulerConfig) -> RenderableType:
    if not entries:
        return Text("no level changes recorded")
    table = Table("At", "Job", "Tenant", "From", "To", "Reason", title="Level changes (newest first)")
    for move in entries:
        job = move.job_id if move.job_id is not None else f"tenant-wide, {move.count} jobs"
        from_to = (level_name(config, move.from_level), level_name(config, move.to_level))
        table.add_row(iso_ms(move.at_ms), job, move.tenant, *from_to, move.reason)
    return table


def maintenance(report: MaintenanceReport, config: SchedulerConfig) -> RenderableType:
    summary = Text(
        f"reaped {report.reaped} expired leases; {len(report.plan.demotions)} tenant demotions; "
        f"{len(report.plan.moves)} job moves planned; {report.moved} jobs moved"
        + (f"; {report.dead_dropped} dead letters dropped by retention" if report.dead_dropped else "")
    )
    parts: list[RenderableType] = [summary]
    if report.plan.demotions:
        table = Table("Tenant", "From", "To", "Until", "Reason", title="Demotions")
        for d in report.plan.demotions:
            table.add_row(
                d.tenant, level_name(config, d.level), level_name(config, d.to_level), iso_ms(d.until_ms), d.reason
            )
        parts.append(table)
    if report.plan.moves:
        table = Table("Job", "From", "To", "Reason", title="Moves")
        for m in report.plan.moves:
            table.add_row(m.job_id, level_name(config, m.from_level), level_name(config, m.to_level), m.reason)
        parts.append(table)
    return Group(*parts)


def cron_schedules(schedules: Sequence[CronSchedule], now_ms: int) -> RenderableType:
    if not schedules:
        return Text("no cron schedules configured (add [[cron]] tables to ebbflow.toml)")
    table = Table("Name", "Cron (UTC)", "Type", "Class", "Tenant", "Next tick", title="Cron schedules")
    for s in schedules:
        table.add_row(s.name, s.cron, s.type, s.job_class or "-", s.tenant, iso_ms(next_tick_ms(s, now_ms)))
    return table


def cron_ticks(results: Sequence[TickResult]) -> RenderableType:
    if not results:
        return Text("no ticks came due")
    table = Table("Schedule", "Tick", "Job", "Result", title="Cron ticks")
    for r in results:
        outcome = "submitted" if r.created else "already submitted"
        table.add_row(r.schedule or "-", iso_ms(r.tick_ms), r.job_id, outcome)
    return table
