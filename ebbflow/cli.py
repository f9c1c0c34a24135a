"""The `ebbflow` command: one short function per command, each calling library code and a renderer.

Every SchedulerError (a refused submit, an unreachable store, a bad config) ends the command with
`error: <message>` on stderr and exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, Any

import click
from pydantic import ValidationError
from rich.console import Group, RenderableType
from rich.live import Live

from ebbflow import render, render_autoscaler, render_fleet, render_run
from ebbflow.config import CONFIG_ENV, RaySettings, Settings, load_settings
from ebbflow.config_errors import dotted
from ebbflow.crons import tick_results
from ebbflow.dead_letters import all_dead_ids
from ebbflow.durations import DURATION
from ebbflow.hot_topics_cmd import hot_topics
from ebbflow.inputs import read_payload
from ebbflow.local_worker import LocalWorker, Outcome, RunRecord
from ebbflow.logged_decisions import recent_decisions
from ebbflow.logs import LOG_FORMATS, LogFormat, configure_logging
from ebbflow.pack_cmd import emulate, pack
from ebbflow.queue_demo import INVALID_SLEEP_PAYLOADS, level_summaries, record_of, serve_order, submit_demo
from ebbflow.ray_worker import worker
from ebbflow.render_crawls import crawls_section
from ebbflow.reports import history_rows, level_status
from ebbflow.simulate_cmd import simulate
from ebbflow.stores import open_scheduler
from scheduler.cron import CronRunner
from scheduler.errors import ConfigError, SchedulerError
from scheduler.job import Lease
from scheduler.queue import Scheduler
from workloads.params import problem_of
from workloads.related_crawl.progress import readable_crawls

ERROR_EXIT = 2


class CliError(click.ClickException):
    exit_code = ERROR_EXIT

    def show(self, file: IO[Any] | None = None) -> None:
        for line in self.message.splitlines():
            click.echo(f"error: {line}", err=True)


def error_message(err: Exception) -> str:
    """One line per problem: a ConfigError already has one per line; anything else is folded to one."""
    if isinstance(err, ValidationError):
        return "\n".join(f"{dotted(e['loc'])}: {problem_of(e)}" for e in err.errors(include_url=False))
    if isinstance(err, ConfigError):
        return str(err)
    return " ".join(str(err).split())


class EbbflowGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (SchedulerError, ValidationError) as err:
            raise CliError(error_message(err)) from err


@dataclass
class App:
    """What every command gets: settings and a Scheduler, each made on first use (so `--help` works even
    with a broken config file, and a bad subcommand option is reported before any store is opened)."""

    config_path: str | None
    _scheduler: Scheduler | None = field(default=None, init=False)

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config_path)

    def scheduler(self) -> Scheduler:
        if self._scheduler is None:
            self._scheduler = open_scheduler(self.settings)
        return self._scheduler

    def close(self) -> None:
        if self._scheduler is not None:
            self._scheduler.store.close()


def show(*renderables: RenderableType | str) -> None:
    render.make_console().print(*renderables)


pass_app = click.make_pass_decorator(App)


@click.group(cls=EbbflowGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar=CONFIG_ENV,
    show_envvar=True,
    help="TOML config file  [default: ./ebbflow.toml if present]",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Background jobs on spot capacity: a durable multi-level feedback queue."""
    app = App(config_path)
    ctx.obj = app
    ctx.call_on_close(app.close)


@main.command()
@click.argument("job_type", metavar="TYPE")
@click.option("--tenant", required=True, help="who the job is for (fair share is per tenant)")
@click.option("--class", "job_class", help="the job's class, which picks its level and default deadline")
@click.option("--payload", help="JSON text, or @FILE to read it from a file")
@click.option("--key", help="idempotency key: a job with this key already queued or running is returned")
@click.option("--deadline", type=DURATION, help="finish within this long, e.g. 30s, 5m, 2h")
@click.option("--max-attempts", type=click.IntRange(min=1), help="failed runs before it is dead-lettered")
@pass_app
def submit(
    app: App,
    job_type: str,
    tenant: str,
    job_class: str | None,
    payload: str | None,
    key: str | None,
    deadline: float | None,
    max_attempts: int | None,
) -> None:
    """Queue one job of TYPE; print its id."""
    value = read_payload(payload)
    result = app.scheduler().submit(
        job_type, value, tenant=tenant, job_class=job_class, key=key, deadline_s=deadline, max_attempts=max_attempts
    )
    click.echo(render.submit_line(result))


@main.command()
@click.option("--watch", is_flag=True, help="redraw in place until Ctrl-C")
@click.option("--every", type=click.FloatRange(min=0.1), default=2.0, show_default=True, help="seconds between redraws")
@click.option("--count", type=click.IntRange(min=1), help="with --watch: stop after this many redraws")
@pass_app
def status(app: App, watch: bool, every: float, count: int | None) -> None:
    """Queue depths per level and type, oldest waits against targets, the autoscaler's fleet, crawls.

    Pending and running jobs per level and job type, the oldest wait per level, totals, delayed jobs
    and dead letters; each level's oldest wait against its autoscaler horizon; from the autoscaler's
    decision log, busy slots per pool, nodes per node type and state, and its last decisions; then the
    related-video crawls' progress per depth.
    """
    scheduler = app.scheduler()

    def current() -> RenderableType:
        stats, now_ms, config = scheduler.store.stats(), scheduler.clock.now_ms(), scheduler.config
        decisions = recent_decisions(app.settings.autoscaler.log_path, render_fleet.DECISIONS_READ)
        parts = [
            render.status(stats, config, now_ms),
            render_fleet.wait_targets(level_status(stats, len(config.levels), now_ms), config, app.settings.autoscaler),
            render_fleet.autoscaler_section(decisions, now_ms / 1000),
        ]
        crawls = crawls_section(readable_crawls(app.settings.packs))
        return Group(*parts) if crawls is None else Group(*parts, crawls)

    if not watch:
        show(current())
        return
    with Live(current(), console=render.make_console(), auto_refresh=False) as live:
        drawn = 1
        try:
            while count is None or drawn < count:
                time.sleep(every)
                live.update(current(), refresh=True)
                drawn += 1
        except KeyboardInterrupt:  # Ctrl-C is how a watch ends
            pass


@main.group()
def jobs() -> None:
    """Look at single jobs."""


@jobs.command("show")
@click.argument("job_id", metavar="ID")
@pass_app
def jobs_show(app: App, job_id: str) -> None:
    """Every field of one job."""
    scheduler = app.scheduler()
    show(render.job_detail(scheduler.get(job_id), scheduler.config))


@main.group()
def dlq() -> None:
    """Dead letters: jobs that used up their attempts."""


@dlq.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@pass_app
def dlq_list(app: App, limit: int) -> None:
    """The most recent dead letters."""
    scheduler = app.scheduler()
    show(render.dead_letters(scheduler.dead_letters(limit), scheduler.config))


@dlq.command("show")
@click.argument("job_id", metavar="ID")
@pass_app
def dlq_show(app: App, job_id: str) -> None:
    """Every field of one dead job, its full error included."""
    scheduler = app.scheduler()
    show(render.job_detail(scheduler.get(job_id), scheduler.config))


@dlq.command("retry")
@click.argument("job_ids", metavar="ID...", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="retry every dead letter")
@pass_app
def dlq_retry(app: App, job_ids: tuple[str, ...], retry_all: bool) -> None:
    """Queue dead jobs again with their attempts reset."""
    if bool(job_ids) == retry_all:
        raise click.UsageError("give job ids or --all (not both)")
    scheduler = app.scheduler()
    ids = all_dead_ids(scheduler) if retry_all else list(job_ids)
    queued = scheduler.retry_dead(ids)
    click.echo(f"queued again: {queued} of {len(ids)}" + ("" if queued == len(ids) else " (the rest were not dead)"))


@main.command()
@click.option("--window", type=DURATION, default="1h", show_default=True, help="how far back to look")
@pass_app
def history(app: App, window: float) -> None:
    """Throughput and wait/run percentiles.

    Per job type and level: leased, finished, finished per minute, wait p50/p99, run p50/p99.
    """
    scheduler = app.scheduler()
    now = scheduler.clock.now_ms()
    since = now - round(window * 1000)
    rows = history_rows(scheduler.store.history(since), since, now)
    show(render.history(rows, scheduler.config, window))


@main.command()
@click.option(
    "--hours", type=click.FloatRange(min=0, min_open=True), default=24.0, show_default=True, help="how far back"
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="FILE.png or FILE.html"
)
@pass_app
def chart(app: App, hours: float, output: Path) -> None:
    """Draw the queue-tracking chart; print the path written.

    Four panels over the last hours: queue depth per level, jobs finished per minute per level, nodes per
    market, and spot prices with the fleet's cost per hour. An .html page adds a table of totals.
    """
    from ebbflow.chart import check_output, write_queue_chart  # matplotlib loads only for this command

    check_output(output)  # a typo in -o fails before any store is opened
    scheduler = app.scheduler()
    until_s = scheduler.clock.now_ms() / 1000
    click.echo(write_queue_chart(app.settings, scheduler, until_s - hours * 3600, until_s, output))


@main.command()
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@pass_app
def moves(app: App, limit: int) -> None:
    """Recent level changes with their reasons.

    Tenant demotions, aging and deadline promotions, newest first.
    """
    scheduler = app.scheduler()
    show(render.moves(scheduler.store.moves(limit), scheduler.config))


@main.command()
@pass_app
def maintain(app: App) -> None:
    """Reap expired leases and apply the MLFQ moves once."""
    scheduler = app.scheduler()
    show(render.maintenance(scheduler.maintain(), scheduler.config))


@main.group()
def cron() -> None:
    """Cron schedules from the config."""


@cron.command("list")
@pass_app
def cron_list(app: App) -> None:
    """The schedules with their next tick."""
    show(render.cron_schedules(app.settings.cron, app.scheduler().clock.now_ms()))


@cron.command("tick")
@pass_app
def cron_tick(app: App) -> None:
    """Submit every tick due in the last hour once (repeats return the job already submitted)."""
    scheduler = app.scheduler()
    results = CronRunner(scheduler, app.settings.cron).tick()
    show(render.cron_ticks(tick_results(scheduler.store, results)))


@main.command()
@click.option("--max-jobs", type=click.IntRange(min=1), help="stop after this many jobs")
@click.option("--idle-exit", is_flag=True, help="stop when nothing is pending")
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="jobs leased at once (more saves round trips; their run times then include the wait in the batch)",
)
@click.option("--worker", "worker_name", default=lambda: f"{socket.gethostname()}-{os.getpid()}", help="lease holder")
@pass_app
def work(app: App, max_jobs: int | None, idle_exit: bool, batch: int, worker_name: str) -> None:
    """Run jobs in this process.

    Leases, runs and acks jobs until Ctrl-C, --max-jobs or (with --idle-exit) an empty queue.
    """
    scheduler = app.scheduler()
    total = max_jobs or sum(scheduler.store.stats().pending.values())
    console = render.make_console()
    with render_run.worker_progress(console, total) as advance:
        outage_s = app.settings.dispatcher.store_outage_s
        worker = LocalWorker(
            scheduler, worker_name, batch, max_jobs, idle_exit, on_record=advance, store_outage_s=outage_s
        )
        counts = worker.run()
    console.print(render_run.worker_counts(counts))


@main.command()
@click.option(
    "--minutes", type=click.FloatRange(min=0.25, max=60), default=2.0, show_default=True, help="how long arrivals go on"
)
@click.option("--seed", type=int, default=7, show_default=True, help="random seed: the same seed, the same mix")
@click.option("--no-live", "no_live", is_flag=True, help="print events as lines instead of the live view")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".ebbflow/demo"),
    show_default=True,
    help="emptied, then holds the run's stores, logs and chart",
)
def demo(minutes: float, seed: int, no_live: bool, workdir: Path) -> None:
    """The whole system on this machine for about two minutes.

    SQLite stores, the synthetic world behind the local emulator, a local fleet of spot and on-demand
    nodes grown and shrunk by the autoscaler, cron and the dispatcher, fed a realistic mix of work
    (sign-ups, refreshes, an hour of hot topics, a stale-video sweep, a capped crawl, a 5,000-job burst,
    a spot reclaim). Ends with a summary and the queue-tracking chart; leaves nothing running.
    """
    from ebbflow.demo import DemoOptions, run_demo
    from ebbflow.demo.view import summary_view

    console = render.make_console()
    report = run_demo(DemoOptions(minutes=minutes, seed=seed, live=not no_live, workdir=workdir), console)
    console.print(summary_view(report))


@main.command("queue-demo")
@click.option("--jobs", "job_count", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--tenants", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--seed", type=int, help="random seed, to repeat a run's mix of jobs")
@click.option("--in-process", is_flag=True, help="run the jobs in this process instead of on a local Ray")
@pass_app
def queue_demo(app: App, job_count: int, tenants: int, seed: int | None, in_process: bool) -> None:
    """The queue alone: queue and run a mix of short jobs (quick; `ebbflow demo` is the whole system).

    Submits noop and sleep jobs across classes and tenants (plus a few invalid ones, which are refused),
    runs them through the dispatcher on a local Ray (ray.address when set) and shows how each level was served.
    """
    scheduler, console = app.scheduler(), render.make_console()
    submitted = submit_demo(scheduler, job_count, tenants, random.Random(seed))
    console.print(render_run.demo_submission(submitted, len(INVALID_SLEEP_PAYLOADS)))
    with render_run.worker_progress(console, sum(scheduler.store.stats().pending.values())) as advance:
        if in_process:
            records = LocalWorker(scheduler, "demo", idle_exit=True, on_record=advance).run().records
        else:
            records = _run_on_ray(app.settings, scheduler, advance)
    ours = [r for r in records if r.job_id in submitted.created]
    summaries = level_summaries(ours, submitted.created)
    others = len(records) - len(ours)
    dead = scheduler.store.stats().dead
    console.print(render_run.demo_summary(summaries, serve_order(ours), dead, others, scheduler.config))


def _run_on_ray(settings: Settings, scheduler: Scheduler, advance: Callable[[RunRecord], None]) -> list[RunRecord]:
    from ebbflow.head import run_until_empty  # imports Ray: only for the commands that use it

    records: list[RunRecord] = []

    def collect(lease: Lease, outcome: Outcome, run_s: float) -> None:
        records.append(record_of(lease, outcome, run_s))
        advance(records[-1])

    run_until_empty(settings, scheduler, collect)
    return sorted(records, key=lambda record: record.token)  # lease order, as the serve order is told


@main.command()
@click.option("--ray-address", help="GCS host:port of a running Ray cluster  [default: ray.address, else a local Ray]")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning"]), default="info", show_default=True)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    help="text lines, or json: one object per line  [default: head.log_format, text]",
)
@pass_app
def head(app: App, ray_address: str | None, log_level: str, log_format: LogFormat | None) -> None:
    """Run the head service: the dispatcher onto Ray, maintenance and cron.

    Leases jobs in MLFQ order and runs them as Ray tasks on spot and on-demand nodes until SIGTERM or
    Ctrl-C, then drains: running jobs may finish, the rest go back to the queue.
    """
    from ebbflow.head import run_head  # Ray is imported only by the commands that use it (a second saved)

    settings = app.settings
    configure_logging(log_level, log_format or settings.head.log_format)
    if ray_address is not None:
        settings = settings.model_copy(
            update={"ray": RaySettings(**{**settings.ray.model_dump(), "address": ray_address})}
        )
    counts = run_head(settings, app.scheduler())
    click.echo(f"head stopped: {counts.summary()}")


@main.group()
def node() -> None:
    """Nodes of the Ray cluster."""


@node.command("drain")
@click.argument("node_id")
@click.option("--ray-address", required=True, help="GCS host:port of the Ray cluster")
@click.option("--reason", type=click.Choice(["preemption", "idle"]), default="preemption", show_default=True)
@click.option("--deadline-s", type=click.FloatRange(min=0), default=120.0, show_default=True)
def node_drain(node_id: str, ray_address: str, reason: str, deadline_s: float) -> None:
    """Drain one node: no new jobs go there, running jobs are told to checkpoint and stop."""
    import ray

    from dispatcher.drain import DrainRefusedError, drain_node

    ray.init(address=ray_address, configure_logging=False, log_to_driver=False)
    try:
        drain_node(node_id, "idle" if reason == "idle" else "preemption", deadline_s)
    except DrainRefusedError as err:
        raise CliError(str(err)) from err
    finally:
        ray.shutdown()
    click.echo(f"draining {node_id}")


@main.command("local-cluster")
@click.option("--spot", "spot_nodes", type=click.IntRange(min=0), default=2, show_default=True, help="spot nodes")
@click.option("--ondemand", "ondemand_nodes", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--slots", type=click.IntRange(min=1), default=2, show_default=True, help="job slots per node")
def local_cluster(spot_nodes: int, ondemand_nodes: int, slots: int) -> None:
    """Run a multi-node Ray cluster on this machine until Ctrl-C or SIGTERM.

    Prints its address for `ebbflow head --ray-address`; the head node offers no job slots, each worker
    node offers --slots of its market. Everything it started is stopped on exit.
    """
    import signal
    import time

    from dispatcher.local_cluster import LocalCluster, NodeSpec
    from dispatcher.markets import Market

    specs = [NodeSpec(Market.SPOT, slots)] * spot_nodes + [NodeSpec(Market.ON_DEMAND, slots)] * ondemand_nodes
    stop = {"now": False}
    with LocalCluster(specs) as cluster:
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        click.echo(f"ray address: {cluster.address}")
        try:
            while not stop["now"]:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    click.echo("local cluster stopped")


@main.group()
def autoscaler() -> None:
    """The autoscaler: its plan now, and the log of why it did what it did."""


@autoscaler.command("plan")
@click.option("--dry-run/--act", default=True, show_default=True, help="only print, or also act once")
@pass_app
def autoscaler_plan(app: App, dry_run: bool) -> None:
    """Observe the queue and the fleet, decide and guard once, and print the decision with its reasons."""
    from ebbflow.autoscaling import busy_slots_source, make_autoscaler, open_fleet, plan_once

    settings, scheduler = app.settings, app.scheduler()
    scaler = make_autoscaler(settings, scheduler, open_fleet(settings), busy_slots_source(settings, scheduler))
    made = plan_once(settings, scheduler, scaler, dry_run, holder=f"cli-{socket.gethostname()}-{os.getpid()}")
    show(render_autoscaler.decision(made, dry_run))


@autoscaler.command("log")
@click.option("-n", "count", type=click.IntRange(min=1), default=20, show_default=True, help="how many")
@pass_app
def autoscaler_log(app: App, count: int) -> None:
    """The last decisions with their inputs and reasons (autoscaler.log_path)."""
    from autoscaler.decision_log import DecisionLog

    show(render_autoscaler.decision_log(DecisionLog(app.settings.autoscaler.log_path).tail(count)))


main.add_command(worker)
main.add_command(simulate)
main.add_command(pack)
main.add_command(emulate)
main.add_command(hot_topics)
