"""Ec2Fleet against a real moto server (one per module, reset before each test).

moto cannot run out of capacity, so `FaultyEc2` wraps the real client and injects EC2's own error shapes
for chosen instance types; every other call goes to the moto server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from autoscaler.ec2_api import CLUSTER_TAG, NODE_TYPE_TAG, REQUEST_TAG, error_kind
from autoscaler.ec2_fleet import Ec2Fleet, LaunchSpec
from autoscaler.fleet import Fleet, NodeType
from dispatcher.markets import Market
from tests.autoscaler.moto_server import MotoServer

NOW = 1_700_000_000.0
M5_A = NodeType("spot-m5xl-a", Market.SPOT, "m5.xlarge", "us-east-1a", slots=4, ondemand_price=0.192)
C5_B = NodeType("spot-c5xl-b", Market.SPOT, "c5.xlarge", "us-east-1b", slots=4, ondemand_price=0.17)
OD_M5_A = NodeType("od-m5xl-a", Market.ON_DEMAND, "m5.xlarge", "us-east-1a", slots=4, ondemand_price=0.192)
TYPES = [M5_A, C5_B, OD_M5_A]
UNKNOWN_ID = "i-0123456789abcdef0"


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    moto = MotoServer.start()
    try:
        yield moto
    finally:
        moto.stop()


@pytest.fixture
def ec2(server: MotoServer) -> Any:
    server.reset()
    return server.ec2_client()


@pytest.fixture
def spec(ec2: Any) -> LaunchSpec:
    """An AMI from moto's default set, and each zone's default subnet (moto ignores an AvailabilityZone
    override and puts every instance in us-east-1a; it honours SubnetId)."""
    name_filter = [{"Name": "name", "Values": ["amzn2-ami-hvm-2.0*"]}]  # unfiltered, moto lists 1300 images
    image_id = ec2.describe_images(Owners=["amazon"], Filters=name_filter)["Images"][0]["ImageId"]
    subnets = {s["AvailabilityZone"]: s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s["DefaultForAz"]}
    return LaunchSpec(image_id=image_id, subnet_ids=subnets)


def make_fleet(ec2: Any, spec: LaunchSpec, cluster: str = "test", **kwargs: Any) -> Ec2Fleet:
    return Ec2Fleet(ec2, TYPES, cluster, spec, clock=lambda: NOW, **kwargs)


def by_type(fleet: Fleet) -> Counter[str]:
    return Counter(n.node_type for n in fleet.nodes())


def instances(ec2: Any, **kwargs: Any) -> list[dict[str, Any]]:
    return [i for r in ec2.describe_instances(**kwargs)["Reservations"] for i in r["Instances"]]


class FaultyEc2:
    """The real client, except create_fleet for an instance type in `errors` (answered like EC2 does for
    an instant fleet it could not fill: no instances, the reason in `Errors`), create_fleet for a type in
    `raises` (a ClientError with that code), terminate_instances while `terminate_raises` is set (a
    ClientError with that code) or when given an id in `vanished` (InvalidInstanceID.NotFound)."""

    def __init__(self, real: Any, errors: dict[str, str] | None = None, raises: dict[str, str] | None = None):
        self.real = real
        self.errors = errors or {}
        self.raises = raises or {}
        self.terminate_raises = ""
        self.vanished: set[str] = set()  # ids terminate_instances reports as not found
        self.fleet_calls: list[dict[str, Any]] = []

    def create_fleet(self, **kwargs: Any) -> dict[str, Any]:
        self.fleet_calls.append(kwargs)
        config = kwargs["LaunchTemplateConfigs"][0]
        itype = config["Overrides"][0]["InstanceType"]
        if itype in self.raises:
            raise ClientError({"Error": {"Code": self.raises[itype], "Message": "injected"}}, "CreateFleet")
        if itype in self.errors:
            error = {
                "LaunchTemplateAndOverrides": {
                    "LaunchTemplateSpecification": config["LaunchTemplateSpecification"],
                    "Overrides": config["Overrides"][0],
                },
                "Lifecycle": "spot",
                "ErrorCode": self.errors[itype],
                "ErrorMessage": f"We currently do not have sufficient {itype} capacity (injected).",
            }
            return {"FleetId": "fleet-injected", "Errors": [error, error], "Instances": []}
        result: dict[str, Any] = self.real.create_fleet(**kwargs)
        return result

    def terminate_instances(self, **kwargs: Any) -> dict[str, Any]:
        if self.terminate_raises:
            raise ClientError({"Error": {"Code": self.terminate_raises, "Message": "injected"}}, "TerminateInstances")
        if self.vanished & set(kwargs["InstanceIds"]):
            error = {"Code": "InvalidInstanceID.NotFound", "Message": "injected"}
            raise ClientError({"Error": error}, "TerminateInstances")
        result: dict[str, Any] = self.real.terminate_instances(**kwargs)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_launches_two_types_in_two_zones(ec2: Any, spec: LaunchSpec) -> None:
    fleet = make_fleet(ec2, spec)
    fleet.launch(M5_A.name, 2, "r1")
    fleet.launch(C5_B.name, 1, "r2")
    fleet.launch(OD_M5_A.name, 1, "r3")
    other = make_fleet(ec2, spec, cluster="other")
    other.launch(M5_A.name, 1, "r1")

    nodes = fleet.nodes()
    assert Counter(n.node_type for n in nodes) == {M5_A.name: 2, C5_B.name: 1, OD_M5_A.name: 1}
    assert {n.state for n in nodes} == {"running"}  # moto starts instances at once
    assert all(n.since_s > 0 and n.running_jobs == 0 for n in nodes)
    assert fleet.poll_errors() == []
    assert by_type(other) == {M5_A.name: 1}

    launched = instances(ec2, Filters=[{"Name": f"tag:{CLUSTER_TAG}", "Values": ["test"]}])
    seen = {
        i["InstanceId"]: (
            {t["Key"]: t["Value"] for t in i["Tags"]},
            i["InstanceType"],
            i["Placement"]["AvailabilityZone"],
            i.get("InstanceLifecycle", "on-demand"),
        )
        for i in launched
    }
    assert {n.node_id for n in nodes} == set(seen)
    types = {t.name: t for t in TYPES}
    for tags, itype, zone, lifecycle in seen.values():
        nt = types[tags[NODE_TYPE_TAG]]
        assert tags[CLUSTER_TAG] == "test"
        assert tags[REQUEST_TAG] in {"r1", "r2", "r3"}
        assert (itype, zone, lifecycle) == (nt.instance_type, nt.zone, str(nt.market))


def test_zone_without_subnet_is_an_availability_zone_override(ec2: Any, spec: LaunchSpec) -> None:
    recorder = FaultyEc2(ec2)
    fleet = make_fleet(recorder, LaunchSpec(image_id=spec.image_id))
    fleet.launch(C5_B.name, 1, "r1")
    overrides = recorder.fleet_calls[0]["LaunchTemplateConfigs"][0]["Overrides"]
    assert overrides == [{"InstanceType": "c5.xlarge", "AvailabilityZone": "us-east-1b"}]
    assert recorder.fleet_calls[0]["SpotOptions"] == {"AllocationStrategy": "price-capacity-optimized"}
    assert by_type(fleet) == {C5_B.name: 1}  # (moto placed it in us-east-1a: it ignores the zone override)


def test_insufficient_capacity_is_reported_once_and_other_type_launches(ec2: Any, spec: LaunchSpec) -> None:
    fleet = make_fleet(FaultyEc2(ec2, errors={"m5.xlarge": "InsufficientInstanceCapacity"}), spec)
    fleet.launch(M5_A.name, 2, "r1")
    fleet.launch(C5_B.name, 2, "r2")

    errors = fleet.poll_errors()
    assert [(e.node_type, e.kind, e.at_s, e.request_id) for e in errors] == [(M5_A.name, "capacity", NOW, "r1")]
    assert errors[0].message.startswith("InsufficientInstanceCapacity")
    assert fleet.poll_errors() == []
    assert by_type(fleet) == {C5_B.name: 2}


def test_client_errors_become_fleet_errors(ec2: Any, spec: LaunchSpec) -> None:
    faulty = FaultyEc2(ec2, errors={"c5.xlarge": "SpotMaxPriceTooLow"}, raises={"m5.xlarge": "VcpuLimitExceeded"})
    fleet = make_fleet(faulty, spec)
    fleet.launch(M5_A.name, 1, "r1")
    fleet.launch(C5_B.name, 1, "r2")
    assert [(e.node_type, e.kind) for e in fleet.poll_errors()] == [(M5_A.name, "quota"), (C5_B.name, "price")]

    missing = make_fleet(ec2, LaunchSpec(launch_template="no-such-template"))  # moto's own error
    missing.launch(M5_A.name, 1, "r3")
    [error] = missing.poll_errors()
    assert (error.kind, error.request_id) == ("launch", "r3")
    assert error.message.startswith("InvalidLaunchTemplate")
    assert by_type(fleet) == {}


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("InsufficientInstanceCapacity", "capacity"),
        ("UnfulfillableCapacity", "capacity"),
        ("SpotMaxPriceTooLow", "price"),
        ("MaxSpotInstanceCountExceeded", "quota"),
        ("InstanceLimitExceeded", "quota"),
        ("InvalidAMIID.NotFound", "launch"),
        ("UnauthorizedOperation", "launch"),
        ("RequestLimitExceeded", "other"),
        ("InternalError", "other"),
    ],
)
def test_error_kinds(code: str, kind: str) -> None:
    assert error_kind(code) == kind


def test_drain_terminates_and_is_idempotent(ec2: Any, spec: LaunchSpec) -> None:
    fleet = make_fleet(ec2, spec)
    fleet.launch(M5_A.name, 3, "r1")
    first, second, kept = sorted(n.node_id for n in fleet.nodes())

    fleet.drain([first, second], "d1")
    assert [n.node_id for n in fleet.nodes()] == [kept]
    fleet.drain([first, second], "d1")  # the same request again
    fleet.drain([first, UNKNOWN_ID, "not-an-instance-id"], "d2")  # gone, unknown and malformed ids
    assert fleet.poll_errors() == []
    assert [n.node_id for n in fleet.nodes()] == [kept]
    states = {i["InstanceId"]: i["State"]["Name"] for i in instances(ec2)}
    assert states == {first: "terminated", second: "terminated", kept: "running"}


def test_drain_when_an_id_vanishes_between_describe_and_terminate(ec2: Any, spec: LaunchSpec) -> None:
    faulty = FaultyEc2(ec2)
    fleet = make_fleet(faulty, spec)
    fleet.launch(M5_A.name, 2, "r1")
    vanished, target = sorted(n.node_id for n in fleet.nodes())
    faulty.vanished = {vanished}  # EC2 rejects the whole batch; the fleet retries id by id
    fleet.drain([vanished, target], "d1")
    assert fleet.poll_errors() == []
    assert {n.node_id: n.state for n in fleet.nodes()} == {vanished: "draining"}  # moto still has it running


def test_drain_leaves_other_clusters_alone(ec2: Any, spec: LaunchSpec) -> None:
    fleet, other = make_fleet(ec2, spec), make_fleet(ec2, spec, cluster="other")
    other.launch(C5_B.name, 1, "r1")
    [foreign] = [n.node_id for n in other.nodes()]
    fleet.drain([foreign], "d1")
    assert [n.node_id for n in other.nodes()] == [foreign]


def test_failed_terminate_stays_draining_and_is_reported(ec2: Any, spec: LaunchSpec) -> None:
    faulty = FaultyEc2(ec2)
    fleet = make_fleet(faulty, spec)
    fleet.launch(C5_B.name, 2, "r1")
    target, kept = sorted(n.node_id for n in fleet.nodes())

    faulty.terminate_raises = "RequestLimitExceeded"
    fleet.drain([target], "d1")
    assert [(e.node_type, e.kind, e.request_id) for e in fleet.poll_errors()] == [(C5_B.name, "other", "d1")]
    assert {n.node_id: n.state for n in fleet.nodes()} == {target: "draining", kept: "running"}

    faulty.terminate_raises = ""
    fleet.drain([target], "d1")
    assert {n.node_id: n.state for n in fleet.nodes()} == {kept: "running"}
    assert fleet.poll_errors() == []


def test_spot_prices_from_moto_history(ec2: Any, spec: LaunchSpec) -> None:
    # moto's history is one fixed dummy price (0.00001) per type and zone
    assert make_fleet(ec2, spec).spot_prices() == {M5_A.name: 0.00001, C5_B.name: 0.00001}


def test_injected_price_source_overrides_history(ec2: Any, spec: LaunchSpec) -> None:
    calls: list[str] = []

    def prices() -> dict[str, float]:
        calls.append("called")
        return {M5_A.name: 0.061, OD_M5_A.name: 0.192, "unknown-type": 1.0}

    faulty = FaultyEc2(ec2)
    faulty.describe_spot_price_history = None  # type: ignore[attr-defined]  # must not be called
    fleet = make_fleet(faulty, spec, price_history=prices)
    assert fleet.spot_prices() == {M5_A.name: 0.061}  # spot types only; C5_B has no price
    assert calls == ["called"]


def test_same_request_id_does_not_launch_twice(ec2: Any, spec: LaunchSpec) -> None:
    recorder = FaultyEc2(ec2)
    fleet = make_fleet(recorder, spec)
    fleet.launch(M5_A.name, 2, "r1")
    fleet.launch(M5_A.name, 2, "r1")
    assert by_type(fleet) == {M5_A.name: 2}
    assert len(recorder.fleet_calls) == 1
    fleet.launch(C5_B.name, 1, "r1")  # the same request id for another type is another request
    fleet.launch(M5_A.name, 1, "r2")
    assert by_type(fleet) == {M5_A.name: 3, C5_B.name: 1}

    tokens = {(c["TagSpecifications"][0]["Tags"][1]["Value"], c["ClientToken"]) for c in recorder.fleet_calls}
    assert len({token for _, token in tokens}) == 3
    assert all(0 < len(token) <= 64 for _, token in tokens)


def test_client_token_is_stable_but_moto_ignores_it(ec2: Any, spec: LaunchSpec) -> None:
    """A restarted fleet (no memory of request ids) relaunching under the same request id sends the same
    ClientToken, which EC2 deduplicates. moto 5.x does not honour ClientToken for create_fleet: it
    launches again, so across processes only real EC2 makes a launch idempotent."""
    first, second = FaultyEc2(ec2), FaultyEc2(ec2)
    make_fleet(first, spec).launch(M5_A.name, 1, "r1")
    restarted = make_fleet(second, spec)
    restarted.launch(M5_A.name, 1, "r1")
    assert first.fleet_calls[0]["ClientToken"] == second.fleet_calls[0]["ClientToken"]
    assert by_type(restarted) == {M5_A.name: 2}  # moto: a second fleet, not the first one again


def test_launch_template_is_created_once_and_shared(ec2: Any, spec: LaunchSpec) -> None:
    make_fleet(ec2, spec).launch(M5_A.name, 1, "r1")
    make_fleet(ec2, spec).launch(C5_B.name, 1, "r2")  # a second process of the same cluster
    templates = ec2.describe_launch_templates()["LaunchTemplates"]
    assert [t["LaunchTemplateName"] for t in templates] == [f"ebbflow-test-{spec.image_id}"]
    image_ids = {i["ImageId"] for i in instances(ec2)}
    assert image_ids == {spec.image_id}


def test_launch_errors_are_data_not_exceptions(ec2: Any, spec: LaunchSpec) -> None:
    fleet = make_fleet(ec2, spec)
    fleet.launch(M5_A.name, 0, "r0")  # nothing to do
    with pytest.raises(ValueError, match="unknown node type"):
        fleet.launch("no-such-type", 1, "r1")
    assert fleet.poll_errors() == []
    assert by_type(fleet) == {}
