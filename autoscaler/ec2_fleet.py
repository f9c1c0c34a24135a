"""EC2 implementation of the Fleet port: one instant EC2 Fleet per launch, terminate to drain.

Every instance it launches carries the tags `ebbflow-cluster=<cluster>`, `ebbflow-node-type=<node type name>`
and `ebbflow-request-id=<request id>`; `nodes()` lists the instances with its cluster tag, so it sees the
nodes of an earlier process of the same cluster too.

Launch: `create_fleet(Type="instant")` with exactly one override (the node type's instance type, and its
zone's subnet, or the zone itself when no subnet is given), for spot with the price-capacity-optimized
allocation strategy, for on demand with DefaultTargetCapacityType on-demand. Both markets take the same path
rather than `run_instances` for on demand: an instant fleet launches what it can and lists what it could not
in its `Errors`, so a partial launch and its reasons come back as data alike in both markets, whereas
`run_instances` is all or nothing per call (MinCount). The ClientToken is derived from the cluster, node
type and request id, so AWS itself deduplicates a retried launch; the fleet also remembers recent request
ids in process (moto ignores ClientToken for create_fleet).

Drain: EC2 has no Ray in the loop, so draining is `terminate_instances`. Ids that are unknown, already
terminated or not of this cluster count as done; the others show as "draining" until they are gone. A
failed terminate is reported as a FleetError of kind "other" and the node stays "draining"; draining it
again retries.

Spot prices: `describe_spot_price_history`, read by autoscaler.spot_prices.Ec2SpotPrices. `price_history`,
when given, replaces that call: it returns $/hour per node type name (tests use it, since moto's history is a
fixed dummy price, and a deployment may prefer a cached price feed).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autoscaler.ec2_api import (
    CLUSTER_TAG,
    GONE_CODES,
    LIVE_STATES,
    NODE_TYPE_TAG,
    REQUEST_TAG,
    Ec2Api,
    client_error_code,
    error_kind,
    pages,
)
from autoscaler.fleet import ErrorKind, FleetError, FleetNode, NodeState, NodeType
from autoscaler.spot_prices import Ec2SpotPrices
from dispatcher.markets import Market

_REMEMBERED_REQUESTS = 4096
_TERMINATE_BATCH = 500


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """What to boot. Exactly one of `image_id` (the fleet then keeps a launch template of its own,
    `ebbflow-<cluster>-<image id>`, holding only that AMI) and `launch_template` (the name of an existing
    template, used at its default version). `subnet_ids` maps a zone to the subnet to launch into there; a
    zone without one is passed as AvailabilityZone (moto ignores that and uses its first default subnet).
    A template name allows only letters, digits and `()./-_`, so the cluster name should too."""

    image_id: str = ""
    launch_template: str = ""
    subnet_ids: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if bool(self.image_id) == bool(self.launch_template):
            raise ValueError("LaunchSpec needs exactly one of image_id and launch_template")


class Ec2Fleet:
    """The Fleet port on EC2. `ec2` is a boto3 EC2 client (or anything with the `Ec2Api` calls); `clock`
    returns epoch seconds and stamps `FleetError.at_s`."""

    def __init__(
        self,
        ec2: Ec2Api,
        node_types: Sequence[NodeType],
        cluster: str,
        launch: LaunchSpec,
        clock: Callable[[], float] = time.time,
        price_history: Callable[[], Mapping[str, float]] | None = None,
        product_description: str = "Linux/UNIX",
    ) -> None:
        names = [t.name for t in node_types]
        if len(set(names)) != len(names):
            raise ValueError(f"node type names must be unique: {names}")
        if not cluster:
            raise ValueError("cluster must be non-empty")
        self._ec2 = ec2
        self._types = {t.name: t for t in node_types}
        self._cluster = cluster
        self._launch = launch
        self._clock = clock
        self._price_history = price_history
        self._ec2_prices = Ec2SpotPrices(ec2, node_types, clock, product_description)
        self._template_name = launch.launch_template or f"ebbflow-{cluster}-{launch.image_id}"
        self._template_ready = bool(launch.launch_template)
        self._errors: list[FleetError] = []
        self._launched: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._draining: set[str] = set()

    # -- Fleet ---------------------------------------------------------------------------------------

    def node_types(self) -> list[NodeType]:
        return list(self._types.values())

    def nodes(self) -> list[FleetNode]:
        instances = self._describe([{"Name": f"tag:{CLUSTER_TAG}", "Values": [self._cluster]}])
        listed: list[FleetNode] = []
        for inst in instances:
            node_id = str(inst["InstanceId"])
            tags = _tags(inst)
            listed.append(
                FleetNode(
                    node_id=node_id,
                    node_type=tags.get(NODE_TYPE_TAG, ""),
                    state=self._state(node_id, str(inst["State"]["Name"])),
                    since_s=_epoch(inst.get("LaunchTime")),
                )
            )
        self._draining &= {n.node_id for n in listed}
        return listed

    def launch(self, node_type: str, count: int, request_id: str) -> None:
        nt = self._types.get(node_type)
        if nt is None:
            raise ValueError(f"unknown node type {node_type!r}")
        key = (node_type, request_id)
        if count <= 0 or key in self._launched:
            return
        try:
            response = self._ec2.create_fleet(**self._fleet_request(nt, count, request_id))
        except Exception as exc:
            parsed = client_error_code(exc)
            if parsed is None:
                raise  # unexpected (e.g. no connection): not remembered, so a retry under this id tries again
            self._remember(key)
            self._report(node_type, parsed[0], parsed[1], request_id)
            return
        self._remember(key)
        seen: set[str] = set()
        for err in response.get("Errors", []):
            code = str(err.get("ErrorCode", ""))
            if code not in seen:
                seen.add(code)
                self._report(node_type, code, str(err.get("ErrorMessage", "")), request_id)

    def drain(self, node_ids: Sequence[str], request_id: str) -> None:
        wanted = list(dict.fromkeys(node_ids))
        if not wanted:
            return
        ours = self._describe(
            [
                {"Name": "instance-id", "Values": wanted},
                {"Name": f"tag:{CLUSTER_TAG}", "Values": [self._cluster]},
            ]
        )
        types = {str(inst["InstanceId"]): _tags(inst).get(NODE_TYPE_TAG, "") for inst in ours}
        ids = list(types)
        self._draining.update(ids)
        for start in range(0, len(ids), _TERMINATE_BATCH):
            self._terminate(ids[start : start + _TERMINATE_BATCH], types, request_id)

    def poll_errors(self) -> list[FleetError]:
        errors, self._errors = self._errors, []
        return errors

    def spot_prices(self) -> dict[str, float]:
        if self._price_history is not None:
            given = self._price_history()
            spot = [t for t in self._types.values() if t.market == Market.SPOT]
            return {t.name: float(given[t.name]) for t in spot if t.name in given}
        return self._ec2_prices()

    # -- helpers -------------------------------------------------------------------------------------

    def _state(self, node_id: str, ec2_state: str) -> NodeState:
        if node_id in self._draining or ec2_state == "shutting-down":
            return "draining"
        return "launching" if ec2_state == "pending" else "running"

    def _describe(self, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        state_filter = {"Name": "instance-state-name", "Values": list(LIVE_STATES)}
        reservations = pages(self._ec2.describe_instances, "Reservations", Filters=[*filters, state_filter])
        return [inst for res in reservations for inst in res.get("Instances", [])]

    def _fleet_request(self, nt: NodeType, count: int, request_id: str) -> dict[str, Any]:
        override: dict[str, str] = {"InstanceType": nt.instance_type}
        subnet = self._launch.subnet_ids.get(nt.zone)
        if subnet:
            override["SubnetId"] = subnet
        else:
            override["AvailabilityZone"] = nt.zone
        tags = [
            {"Key": CLUSTER_TAG, "Value": self._cluster},
            {"Key": NODE_TYPE_TAG, "Value": nt.name},
            {"Key": REQUEST_TAG, "Value": request_id},
        ]
        spot = nt.market == Market.SPOT
        request: dict[str, Any] = {
            "Type": "instant",
            "ClientToken": _token(self._cluster, nt.name, request_id),
            "LaunchTemplateConfigs": [
                {
                    "LaunchTemplateSpecification": {"LaunchTemplateName": self._template(), "Version": "$Default"},
                    "Overrides": [override],
                }
            ],
            "TargetCapacitySpecification": {
                "TotalTargetCapacity": count,
                "DefaultTargetCapacityType": "spot" if spot else "on-demand",
            },
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
        }
        if spot:
            request["SpotOptions"] = {"AllocationStrategy": "price-capacity-optimized"}
        else:
            request["OnDemandOptions"] = {"AllocationStrategy": "lowest-price"}
        return request

    def _template(self) -> str:
        """The launch template's name, creating the fleet's own template on first use. A ClientError here
        propagates to `launch`, which reports it (kind "launch" for a bad AMI id)."""
        if self._template_ready:
            return self._template_name
        name_filter = [{"Name": "launch-template-name", "Values": [self._template_name]}]
        if not self._ec2.describe_launch_templates(Filters=name_filter).get("LaunchTemplates"):
            try:
                self._ec2.create_launch_template(
                    LaunchTemplateName=self._template_name,
                    LaunchTemplateData={"ImageId": self._launch.image_id},
                    ClientToken=_token(self._cluster, "launch-template", self._template_name),
                )
            except Exception as exc:  # another process of this cluster created it first: fine
                parsed = client_error_code(exc)
                if parsed is None or not parsed[0].endswith("AlreadyExistsException"):
                    raise
        self._template_ready = True
        return self._template_name

    def _terminate(self, ids: list[str], types: Mapping[str, str], request_id: str) -> None:
        try:
            self._ec2.terminate_instances(InstanceIds=ids)
        except Exception as exc:
            parsed = client_error_code(exc)
            if parsed is None:
                raise
            if parsed[0] in GONE_CODES and len(ids) > 1:  # one went away meanwhile: retry the rest one by one
                for one in ids:
                    self._terminate([one], types, request_id)
            elif parsed[0] not in GONE_CODES:
                node_types = sorted({types.get(i, "") for i in ids})
                for node_type in node_types:
                    self._report(node_type, parsed[0], f"terminate {ids}: {parsed[1]}", request_id, "other")

    def _report(self, node_type: str, code: str, message: str, request_id: str, kind: ErrorKind | None = None) -> None:
        text = f"{code}: {message}" if message else code
        kind = kind or error_kind(code)
        self._errors.append(FleetError(node_type, kind, self._clock(), text, request_id))

    def _remember(self, key: tuple[str, str]) -> None:
        self._launched[key] = None
        while len(self._launched) > _REMEMBERED_REQUESTS:
            self._launched.popitem(last=False)


def _tags(inst: Mapping[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in inst.get("Tags", [])}


def _epoch(value: object) -> float:
    return value.timestamp() if isinstance(value, datetime) else 0.0


def _token(*parts: str) -> str:
    """An idempotency token (at most 64 ASCII characters, as EC2 requires) for these parts."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:64]
