"""`ebbflow autoscaler plan` and `log` end to end: settings -> EC2 fleet on a real moto server -> the loop
-> the decision log, with jobs queued in the embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ebbflow import load_settings
from ebbflow.stores import open_scheduler
from tests.autoscaler.moto_server import MotoServer, moto

__all__ = ["moto"]  # a fixture, used by name

NODE_TYPES = """
[[autoscaler.node_types]]
name = "spot-m5-a"
market = "spot"
instance_type = "m5.xlarge"
zone = "us-east-1a"
slots = 4
ondemand_price = 0.192

[[autoscaler.node_types]]
name = "spot-c5-b"
market = "spot"
instance_type = "c5.xlarge"
zone = "us-east-1b"
slots = 4
ondemand_price = 0.17

[[autoscaler.node_types]]
name = "od-m5-a"
market = "on-demand"
instance_type = "m5.xlarge"
zone = "us-east-1a"
slots = 4
ondemand_price = 0.192
"""


@pytest.fixture
def ec2_config(moto: MotoServer, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    moto.reset()
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    ec2 = moto.ec2_client()
    images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-2.0*"]}])
    subnets = {s["AvailabilityZone"]: s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s["DefaultForAz"]}
    config = workdir / "ebbflow.toml"
    config.write_text(
        '[autoscaler]\nfleet = "ec2"\n'
        + "[autoscaler.ec2]\n"
        + f'endpoint_url = "{moto.url}"\nimage_id = "{images["Images"][0]["ImageId"]}"\n'
        + f"subnet_ids = {json.dumps(subnets).replace(':', ' =')}\n"
        + NODE_TYPES
    )
    return config


def test_plan_prints_a_dry_run_then_acts_and_the_log_tells_why(cli, ec2_config: Path, moto: MotoServer) -> None:
    # given 20,000 queued 1-second jobs (about 6 slots: queued work is sized to be done within the hour that
    # autoscaler.fan_out_s gives it, though the background level's target wait is 6 hours) and no nodes
    scheduler = open_scheduler(load_settings())
    scheduler.submit_many([scheduler.prepare("sleep", {"seconds": 1}, tenant=f"t{i % 5}") for i in range(20_000)])
    scheduler.store.close()
    # when the plan is only printed, nothing is launched
    dry = cli.ok("autoscaler", "plan").stdout
    assert "dry run" in dry and "1 x od-m5-a" in dry and "1 x spot-c5-b" in dry  # moto: every price the same
    assert moto.ec2_client().describe_instances()["Reservations"] == []
    # when it acts, the on-demand floor and two spot nodes (moto prices all alike: one of each type) launch on EC2
    cli.ok("autoscaler", "plan", "--act")
    launched = [i for r in moto.ec2_client().describe_instances()["Reservations"] for i in r["Instances"]]
    types = sorted((i["InstanceType"], i.get("InstanceLifecycle", "on-demand")) for i in launched)
    assert types == [("c5.xlarge", "spot"), ("m5.xlarge", "on-demand"), ("m5.xlarge", "spot")]
    # and the log says what it saw and why
    log = cli.ok("autoscaler", "log").stdout
    assert "20000" in log and "1 x spot-c5-b" in log


def test_no_node_types_is_a_clear_error(cli, workdir: Path) -> None:
    result = cli("autoscaler", "plan")
    assert result.exit_code == 2 and "autoscaler.node_types" in result.output
