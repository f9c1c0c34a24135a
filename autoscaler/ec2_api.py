"""The EC2 calls `Ec2Fleet` makes, and how their error codes map to `FleetError` kinds.

`Ec2Api` lists only the six boto3 EC2 client methods the fleet uses, so a boto3 client
(`boto3.client("ec2", ...)`) satisfies it as is, and a test can wrap one to inject failures.
"""

from __future__ import annotations

from typing import Any, Protocol

from autoscaler.fleet import ErrorKind

CLUSTER_TAG = "ebbflow-cluster"
NODE_TYPE_TAG = "ebbflow-node-type"
REQUEST_TAG = "ebbflow-request-id"

# An instance in one of these states is a node; terminated (and stopped: we never stop) ones are not.
LIVE_STATES = ("pending", "running", "shutting-down")

# Unknown or already-deleted instance ids: terminating them counts as done.
GONE_CODES = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})

_CAPACITY_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientCapacity",
        "InsufficientHostCapacity",
        "InsufficientReservedInstanceCapacity",
        "UnfulfillableCapacity",
        "capacity-not-available",
        "capacity-oversubscribed",
    }
)
_PRICE_CODES = frozenset({"SpotMaxPriceTooLow", "price-too-low", "bad-price"})
_QUOTA_CODES = frozenset(
    {
        "InstanceLimitExceeded",
        "VcpuLimitExceeded",
        "MaxSpotInstanceCountExceeded",
        "MaxSpotFleetRequestCountExceeded",
        "MaxFleetCountExceeded",
        "TargetCapacityLimitExceededException",
    }
)
_LAUNCH_PREFIXES = ("Invalid", "Unsupported", "MissingParameter", "UnauthorizedOperation", "OptInRequired")


class Ec2Api(Protocol):
    """The boto3 EC2 client methods in use. Each takes the AWS API's keyword arguments and returns its
    response dict (boto3 is untyped, hence `Any`)."""

    def create_fleet(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_instances(self, **kwargs: Any) -> dict[str, Any]: ...

    def terminate_instances(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_spot_price_history(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_launch_templates(self, **kwargs: Any) -> dict[str, Any]: ...

    def create_launch_template(self, **kwargs: Any) -> dict[str, Any]: ...


def error_kind(code: str) -> ErrorKind:
    """capacity (no capacity of that type in that zone), price (spot max price too low), quota (an account
    limit), launch (the request itself is wrong: bad AMI, template, subnet, permissions), other."""
    if code in _CAPACITY_CODES:
        return "capacity"
    if code in _PRICE_CODES:
        return "price"
    if code in _QUOTA_CODES or (code.endswith("LimitExceeded") and code != "RequestLimitExceeded"):
        return "quota"
    if code.startswith(_LAUNCH_PREFIXES):
        return "launch"
    return "other"


def client_error_code(exc: Exception) -> tuple[str, str] | None:
    """(code, message) of a botocore ClientError (duck-typed: anything with a `response["Error"]`), else None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error")
    if not isinstance(error, dict) or not error.get("Code"):
        return None
    return str(error["Code"]), str(error.get("Message", ""))


def pages(call: Any, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item under `key` across the NextToken pages of one describe call."""
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        response = call(**kwargs, NextToken=token) if token else call(**kwargs)
        items.extend(response.get(key, []))
        token = response.get("NextToken") or ""
        if not token:
            return items
