"""Ray's fake multi-node provider with a market that can run out: launches of the node types named in a file
fail the way a cloud's do when it has no capacity for them.

`FakeAutoscalingCluster` points Ray's autoscaler at this provider and names the file in the provider config
(`no_capacity_file`); `FakeAutoscalingCluster.refuse` writes it. The file is read at each launch, so a test can
take a type's capacity away, or give it back, while the cluster runs. Ray's v2 autoscaler reports the failed
launch with the error's text (`ClusterStatus.failed_launches`), which `RayFleet` turns into a FleetError of kind
"capacity", as it would EC2's InsufficientInstanceCapacity. Types whose `max_workers` is 0 would not do: Ray
treats the whole resource request as infeasible then, and launches no node of any type for it.

The Ray head's monitor process imports this module by name (the project is installed in its environment). It
lives here, beside the other local clusters' machinery (cluster_base.py), because that process runs with Ray's
`ray/autoscaler/v2/` first on its path, where `autoscaler` and `scheduler` name modules of Ray's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ray.autoscaler._private.fake_multi_node.node_provider import FakeMultiNodeProvider
from ray.autoscaler.tags import TAG_RAY_USER_NODE_TYPE

NO_CAPACITY_KEY = "no_capacity_file"


class NoCapacityError(RuntimeError):
    pass


def refused_types(path: str | None) -> set[str]:
    if not path:
        return set()
    try:
        return {line.strip() for line in Path(path).read_text().splitlines() if line.strip()}
    except FileNotFoundError:
        return set()


class MarketProvider(FakeMultiNodeProvider):
    def create_node_with_resources_and_labels(
        self, node_config: dict[str, Any], tags: dict[str, str], count: int, resources: Any, labels: Any
    ) -> Any:
        node_type = tags.get(TAG_RAY_USER_NODE_TYPE, "")
        if node_type in refused_types(self.provider_config.get(NO_CAPACITY_KEY)):
            raise NoCapacityError(f"InsufficientInstanceCapacity: no capacity for {count} x {node_type} (fake market)")
        create: Any = super().create_node_with_resources_and_labels  # untyped in Ray
        return create(node_config, tags, count, resources, labels)
