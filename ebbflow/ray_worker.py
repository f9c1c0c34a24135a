"""`ebbflow worker`: join this machine to a Ray cluster as a worker node of one market.

It becomes `ray start --address=HOST:PORT --resources='{"spot": N}' --num-cpus=C --labels=market-type=spot
--block` (the names are dispatcher/markets.py's): the node offers N job slots of its market, and the
dispatcher asks for one slot per task. The command replaces itself with `ray start` (exec), so signals
(Ctrl-C stops the node cleanly) and the exit code are ray start's own.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import click

from dispatcher.markets import MARKET_LABEL, MARKET_RESOURCE, Market


def parse_address(address: str) -> str:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{address!r} is not HOST:PORT (the head's GCS address)", param_hint="'--address'")
    return address


def parse_market(market: str) -> Market:
    try:
        return Market(market)
    except ValueError:
        choices = ", ".join(m.value for m in Market)
        raise click.BadParameter(f"{market!r} is not one of {choices}", param_hint="'--market'") from None


def ray_executable() -> str:
    """The `ray` next to this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else shutil.which("ray") or "ray"


def worker_command(address: str, market: Market | str, slots: int, cpus: int | None, block: bool) -> list[str]:
    """The `ray start` argv for a worker node with `slots` slots of `market` (cpus defaults to slots)."""
    address, market = parse_address(address), parse_market(market)
    if slots < 1:
        raise click.BadParameter(f"{slots} is not a number of slots (at least 1)", param_hint="'--slots'")
    if cpus is not None and cpus < 0:
        raise click.BadParameter(f"{cpus} is not a number of CPUs (0 or more)", param_hint="'--cpus'")
    return [
        ray_executable(),
        "start",
        f"--address={address}",
        f"--resources={json.dumps({MARKET_RESOURCE[market]: slots})}",
        f"--num-cpus={slots if cpus is None else cpus}",
        f"--labels={MARKET_LABEL}={market.value}",
        *(["--block"] if block else []),
    ]


@click.command("worker")
@click.option(
    "--address",
    required=True,
    callback=lambda _ctx, _param, value: parse_address(str(value)),
    help="the cluster head's GCS address, HOST:PORT",
)
@click.option(
    "--market",
    required=True,
    type=click.Choice([m.value for m in Market]),
    help="the market this machine was bought on",
)
@click.option(
    "--slots",
    type=click.IntRange(min=1),
    default=lambda: os.cpu_count() or 1,
    show_default="this machine's CPU count",
    help="jobs this node runs at once",
)
@click.option("--cpus", type=click.IntRange(min=0), help="CPUs Ray may schedule here  [default: slots]")
@click.option("--block/--no-block", default=True, show_default=True, help="stay in the foreground until stopped")
def worker(address: str, market: str, slots: int, cpus: int | None, block: bool) -> None:
    """Join this machine to a Ray cluster as a worker node of one market (runs `ray start`)."""
    argv = worker_command(address, market, slots, cpus, block)
    # Heads started by ebbflow run with auth disabled; without this, a ~/.ray/auth_token left by an earlier
    # ray.init() would make ray start use token auth and fail. Set RAY_AUTH_MODE yourself to override.
    env = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    click.echo(f"ebbflow worker: {' '.join(argv)}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(argv[0], argv, env)  # never returns; ray start's exit code is ours
