"""cluster.yaml passes the checks `ray up` makes before it touches AWS (Ray's own defaults filled in, then its
shipped JSON schema and rules), and it agrees with the head's configuration (deploy/ebbflow.cluster.toml): the
same worker types, markets, zones, slots and resources, the Ray port, and cron entries naming real job types."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from dispatcher.markets import MARKET_LABEL, MARKET_RESOURCE, Market
from ebbflow.config import load_settings
from workloads.binding import job_types
from workloads.discovery import load_packs
from workloads.resources import ResourcesSource
from workloads.settings import PacksSettings

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = yaml.safe_load((ROOT / "cluster.yaml").read_text())
SETTINGS = load_settings(ROOT / "deploy" / "ebbflow.cluster.toml")
WORKERS = {name: spec for name, spec in CLUSTER["available_node_types"].items() if name != CLUSTER["head_node_type"]}


def market_of(spec: dict[str, Any]) -> Market:
    options = spec["node_config"].get("InstanceMarketOptions", {})
    return Market.SPOT if options.get("MarketType") == "spot" else Market.ON_DEMAND


def test_ray_accepts_the_cluster_as_ray_up_checks_it():
    # `ray up` fills in the provider's defaults, then validates against ray/autoscaler/ray-schema.json
    validate_config(prepare_config(copy.deepcopy(CLUSTER)))


def test_a_broken_cluster_yaml_is_refused_by_the_same_check():
    broken = copy.deepcopy(CLUSTER)
    broken["available_node_types"]["spot-m5xl-a"]["max_workers"] = "twenty"
    with pytest.raises(Exception, match="twenty"):
        validate_config(prepare_config(broken))


def test_spot_spans_two_instance_types_and_two_zones_and_on_demand_has_a_floor():
    spot = [spec for spec in WORKERS.values() if market_of(spec) is Market.SPOT]
    assert len({spec["node_config"]["InstanceType"] for spec in spot}) >= 2
    assert len({spec["node_config"]["Placement"]["AvailabilityZone"] for spec in spot}) >= 2
    ondemand = [spec for spec in WORKERS.values() if market_of(spec) is Market.ON_DEMAND]
    assert ondemand and all(spec["min_workers"] >= 1 for spec in ondemand)
    head = CLUSTER["available_node_types"][CLUSTER["head_node_type"]]
    assert not set(head["resources"]) & set(MARKET_RESOURCE.values())  # no job is ever placed on the head


def test_every_worker_type_is_one_the_head_autoscales_with_the_same_shape():
    by_name = {node_type.name: node_type for node_type in SETTINGS.autoscaler.node_types}
    assert set(by_name) == set(WORKERS)
    assert SETTINGS.autoscaler.enabled and SETTINGS.autoscaler.fleet == "ray"
    for name, spec in WORKERS.items():
        node_type, market = by_name[name], market_of(spec)
        assert node_type.market is market, name
        assert spec["labels"] == {MARKET_LABEL: market.value}, name
        assert node_type.instance_type == spec["node_config"]["InstanceType"], name
        assert node_type.zone == spec["node_config"]["Placement"]["AvailabilityZone"], name
        assert spec["resources"][MARKET_RESOURCE[market]] == node_type.slots, name
        assert spec["resources"][node_type.resource] == 1, name  # the type's own resource: one per node
        assert node_type.max_nodes == spec["max_workers"], name
    assert sum(spec["max_workers"] for spec in WORKERS.values()) <= CLUSTER["max_workers"]


def test_the_head_reaches_ray_on_the_port_the_cluster_starts_it_on():
    port = SETTINGS.ray.address.rsplit(":", 1)[1] if SETTINGS.ray.address else None
    assert port is not None and port != "6379"  # Redis keeps 6379 on the head
    assert any(f"--head --port={port}" in command for command in CLUSTER["head_start_ray_commands"])
    assert any(f"$RAY_HEAD_IP:{port}" in command for command in CLUSTER["worker_start_ray_commands"])


def test_the_head_service_uses_the_synced_project_and_restarts_on_failure():
    unit = (ROOT / "deploy" / "ebbflow-head.service").read_text()
    assert "Restart=on-failure" in unit
    assert "EBBFLOW_CONFIG=/home/ubuntu/ebbflow/deploy/ebbflow.cluster.toml" in unit
    assert CLUSTER["file_mounts"] == {"~/ebbflow": "."}
    assert any("pip install" in command and "~/ebbflow" in command for command in CLUSTER["setup_commands"])
    assert any("ebbflow-head" in command for command in CLUSTER["head_start_ray_commands"])
    assert subprocess.run(["bash", "-n", str(ROOT / "deploy" / "head_env.sh")], check=False).returncode == 0


def test_the_cron_entries_name_installed_job_types():
    source = ResourcesSource.from_settings(PacksSettings())
    installed = {job_type.name for pack in load_packs().values() for job_type in job_types(pack, source)}
    assert {schedule.type for schedule in SETTINGS.cron} <= installed
    assert "hot-topics.plan" in {schedule.type for schedule in SETTINGS.cron}


def test_the_stores_workers_use_are_the_heads_servers_not_local_files():
    env = (ROOT / "deploy" / "head_env.sh").read_text()
    for variable in ("EBBFLOW_REDIS__URL=redis://${ip}", "EBBFLOW_PACKS__RANKINGS=redis://:${redis_password}@${ip}",
                     "EBBFLOW_PACKS__INDEX=mysql://", "EBBFLOW_REDIS__PASSWORD=${redis_password}"):  # fmt: skip
        assert variable in env
    # the head's Redis listens on the private network: it requires the password
    assert 'echo "requirepass ${redis_password}"' in env
    assert SETTINGS.store == "redis" and SETTINGS.packs.archive.startswith("s3://")
