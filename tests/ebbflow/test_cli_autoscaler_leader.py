"""`ebbflow autoscaler plan` by the leader lease's rules: acting is refused while a head leads (it would launch
beside the leader), and a plan reads the leader's memory in the store, so the hourly cap set by an earlier
round holds for the next one. EC2 fleet on a real moto server, the embedded SQLite store."""

from __future__ import annotations

from pathlib import Path

from ebbflow import load_settings
from ebbflow.stores import open_scheduler
from scheduler.leader_sqlite import SQLiteLeaderLease
from tests.autoscaler.moto_server import MotoServer, moto
from tests.ebbflow.conftest import Cli
from tests.ebbflow.test_cli_autoscaler import ec2_config

__all__ = ["ec2_config", "moto"]  # fixtures, used by name


def queue_work(jobs: int = 20_000) -> None:
    """`jobs` queued 1-second jobs: 20,000 are about 6 slots (tests/ebbflow/test_cli_autoscaler.py)."""
    scheduler = open_scheduler(load_settings())
    scheduler.submit_many([scheduler.prepare("sleep", {"seconds": 1}, tenant=f"t{i % 5}") for i in range(jobs)])
    scheduler.store.close()


def launched(moto: MotoServer) -> int:
    return sum(len(r["Instances"]) for r in moto.ec2_client().describe_instances()["Reservations"])


def test_acting_is_refused_while_a_head_leads(cli: Cli, ec2_config: Path, moto: MotoServer) -> None:
    queue_work()
    lease = SQLiteLeaderLease(load_settings().sqlite.path)
    try:
        assert lease.acquire("head-elsewhere-42", 60_000) is not None
        result = cli("autoscaler", "plan", "--act")
        assert result.exit_code != 0 and "head-elsewhere-42 leads" in result.output
        assert launched(moto) == 0
        assert "dry run" in cli.ok("autoscaler", "plan").stdout  # looking is always allowed
    finally:
        lease.close()


def test_the_hourly_cap_of_one_round_holds_for_the_next(cli: Cli, ec2_config: Path, moto: MotoServer) -> None:
    with ec2_config.open("a") as config:
        config.write("\n[autoscaler.guard]\nmax_launch_per_hour = 3\nscale_up_cooldown_s = 0\n")
    queue_work(80_000)  # about 22 slots: more nodes than the hourly cap allows
    cli.ok("autoscaler", "plan", "--act")
    first = launched(moto)
    assert first == 3
    # the next round (a new process, as a restarted head would be) still sees the launches of this hour
    plan = cli.ok("autoscaler", "plan").stdout
    assert "per hour" in plan, plan
    cli.ok("autoscaler", "plan", "--act")
    assert launched(moto) == first
