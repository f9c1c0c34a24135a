"""`ebbflow pack list | submit` and `ebbflow emulate`."""

from __future__ import annotations

import dataclasses
from typing import Protocol

import click

from ebbflow import render
from ebbflow.config import Settings
from ebbflow.render_packs import packs_table, submitted_line
from scheduler.queue import Scheduler
from workloads.context import PlanContext, prepare_planned, submit_planned
from workloads.discovery import find_pack, load_packs
from workloads.params import parse_params
from workloads.resources import Resources


class AppLike(Protocol):
    settings: Settings

    def scheduler(self) -> Scheduler: ...


@click.group()
def pack() -> None:
    """Workload packs: list them, plan and submit their jobs."""


@pack.command("list")
def pack_list() -> None:
    """Installed packs, their job types and parameters."""
    render.make_console().print(packs_table(load_packs()))


@pack.command("submit")
@click.argument("pack_name", metavar="PACK")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="a pack parameter (repeatable)")
@click.option("--class", "job_class", help="override the class (and so the level) of every planned job")
@click.option("--dry-run", is_flag=True, help="plan and validate, print what would be queued, store nothing")
@click.pass_obj
def pack_submit(app: AppLike, pack_name: str, params: tuple[str, ...], job_class: str | None, dry_run: bool) -> None:
    """Plan PACK's jobs from its parameters and queue them; bad parameters queue nothing."""
    chosen = find_pack(load_packs(), pack_name)
    values = parse_params(chosen.params, params)
    scheduler = app.scheduler()  # opened before planning: an unreachable store fails before any planning I/O
    resources = Resources(app.settings.packs)
    try:
        planned = chosen.plan(values, PlanContext.now(resources, dry_run))
    finally:
        resources.close()
    if job_class is not None:
        planned = [dataclasses.replace(job, job_class=job_class) for job in planned]
    if dry_run:
        prepare_planned(scheduler, planned)  # the checks a submit makes (type, class, payload schema)
        click.echo(f"{chosen.name}: would queue {len(planned)} jobs (dry run: nothing stored)")
        return
    click.echo(submitted_line(chosen, planned, submit_planned(scheduler, planned)))


@click.command("emulate")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind (keep it local)")
@click.option("--port", type=click.IntRange(0, 65535), default=8780, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True, help="the synthetic world's seed")
@click.option("--users", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--videos", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="share of answers spoiled on purpose: a 5xx, a body cut short, a wrong shape, or a late answer",
)
@click.option(
    "--fault-kinds",
    default="error,truncated,wrong-shape,slow",
    show_default=True,
    help="which spoilings --fault-rate picks from",
)
@click.option(
    "--pages",
    type=click.Choice(["realistic", "light"]),
    default="realistic",
    show_default=True,
    help="watch pages as heavy as the real site's (170-520 KB, related videos in embedded data) or 1-3 KB",
)
def emulate(
    host: str, port: int, seed: int, users: int, videos: int, fault_rate: float, fault_kinds: str, pages: str
) -> None:
    """Serve the synthetic world over the APIs the sources call (Graph, X, video pages) until Ctrl-C."""
    from workloads.emulator.faults import FAULT_KINDS, Faults
    from workloads.emulator.server import serve
    from workloads.emulator.state import PageWeight
    from workloads.world import WorldConfig

    kinds = tuple(kind.strip() for kind in fault_kinds.split(",") if kind.strip())
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if unknown or not kinds:
        raise click.BadParameter(
            f"{unknown or kinds} is not a list of {', '.join(FAULT_KINDS)}", param_hint="--fault-kinds"
        )
    faults = Faults(rate=fault_rate, kinds=kinds, seed=seed)  # type: ignore[arg-type]  # checked just above
    weight: PageWeight = "light" if pages == "light" else "realistic"
    serve(WorldConfig(seed=seed, users=users, videos=videos), host=host, port=port, faults=faults, page_weight=weight)
