"""The Fleet port on Ray's own autoscaler: one desired floor per node type, sent as a resource request.

Every node type carries a custom resource of its own (`NodeType.resource`, one unit per node; see
`node_type_resource`), so `request_resources(bundles=[{resource: 1}] * n)` makes Ray's autoscaler keep at
least `n` nodes of exactly that type. A request replaces the previous one, so every call sends the whole
desired state: the floors of all types at once.

The floor of a type is the number of its nodes the fleet's caller has accepted:

* `launch(t, c)` sets floor(t) = max(floor(t), A) + c, where A is the number of alive, not draining nodes of
  t now (capped at `NodeType.max_nodes`; the excess is a "quota" FleetError). Nodes Ray started on its own
  (for queued tasks) are thereby kept too. Launches Ray reports as pending are not added: the floor already
  holds the ones this fleet asked for, and Ray's pending list lags about one autoscaler round behind a node
  that just came up, which would otherwise inflate the floor for good.
* `drain(ids)` lowers it: floor(t) = max(floor(t), A) - k, k being the given nodes of t not retired before
  (alive, draining or launching), then drains them with `GcsClient.drain_node`. The floor is lowered first,
  so that Ray never sees a drained node without the lower floor and launches a replacement.
* `relay_interruption(id, deadline_s)` drains with reason PREEMPTION and leaves the floor alone: the node no
  longer counts for the floor (Ray's v2 autoscaler does not count a draining node), so Ray launches a
  replacement at once.
* A node that dies on its own (spot reclaim) leaves the floor as it was, so Ray replaces it.
* A launch Ray reports as failed lowers the floor by one (and is a FleetError): as with a cloud, the failed
  node is not coming and the caller decides what instead; Ray would otherwise retry that type forever.

Above its floor, a type follows Ray's own rules (nodes for queued tasks, idle nodes go after the idle
timeout). `nodes()` lists alive nodes of the fleet's types (known by their resource) as running or draining,
Ray's pending launches as launching, and each type's remaining shortfall (floor - running - Ray's pending)
as launching too (ids "requested:<type>:<i>"), so a caller that counts launching nodes never asks twice,
even before Ray's autoscaler has picked the request up. Ids of launching nodes are not the ids they will run
under: Ray's pending launches have none ("pending:<type>:<ts>:<i>"), its pending instances an instance-manager
uuid. Ray's pending list lags up to one autoscaler round (AUTOSCALER_UPDATE_INTERVAL_S, 5 s by default) behind
a node coming up, so for that long a new node can show both as running and as launching.

Only the leading head's fleet calls `request_resources` (the autoscaler runs under the head's leader lease,
docs/heads.md): two heads would each replace the other's request. A new leader adopts the floors the previous
one asked for (`adopt_floors`, from the autoscaler's memory in the store) before it sends its own.

Needs a connected driver (`ray.init(address=...)`); works with autoscaler v2 heads, which report pending and
failed launches (`ray.autoscaler.v2.sdk.get_cluster_status`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ray
from ray.autoscaler.sdk import request_resources
from ray.autoscaler.v2.sdk import get_cluster_status
from ray.autoscaler.v2.utils import is_autoscaler_v2

from autoscaler.fleet import ErrorKind, FleetError, FleetNode, NodeState, NodeType
from dispatcher.drain import DrainRefusedError, drain_node
from dispatcher.markets import MARKET_RESOURCE, Market

log = logging.getLogger(__name__)

REMEMBERED_REQUESTS = 10_000  # request ids kept for idempotence

_Alive = dict[str, tuple[str, NodeState, int]]  # node id -> (node type, running|draining, running jobs)


def node_type_resource(node_type: NodeType) -> str:
    """The custom resource (one unit per node) that only nodes of this type carry."""
    return node_type.resource or f"nt-{node_type.name}"


def _draining_node_ids() -> set[str]:
    from ray._private.state import state  # a private API, verified with Ray 2.60

    return set(state.get_draining_nodes())


class RayFleet:
    def __init__(
        self,
        node_types: Sequence[NodeType],
        *,
        gcs_address: str | None = None,  # the connected driver's cluster unless given
        prices: Callable[[], Mapping[str, float]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._types = {node_type.name: node_type for node_type in node_types}
        self._by_resource = {node_type_resource(node_type): node_type for node_type in node_types}
        if len(self._by_resource) != len(self._types):
            raise ValueError("every node type needs a resource of its own")
        self._gcs_address = gcs_address
        self._prices = prices or dict
        self._clock = clock
        self._lock = threading.RLock()
        self._floor = dict.fromkeys(self._types, 0)
        self._requests: OrderedDict[str, None] = OrderedDict()
        self._retired: set[str] = set()  # node ids whose drain lowered a floor
        self._first_seen: dict[str, float] = {}  # node id -> when this fleet first saw it (alive, or pending)
        self._asked_at = dict.fromkeys(self._types, 0.0)  # last launch per type
        self._last_request_id = dict.fromkeys(self._types, "")
        self._errors: list[FleetError] = []
        self._reported_failures: Counter[tuple[str, int, int, str]] = Counter()

    # -- the Fleet port ----------------------------------------------------------------------------------------

    def node_types(self) -> list[NodeType]:
        return list(self._types.values())

    def floors(self) -> dict[str, int]:
        """The desired floor per node type (what the last resource request asked for)."""
        with self._lock:
            return dict(self._floor)

    def adopt_floors(self, floors: Mapping[str, int]) -> None:
        """Stand on the request a previous leader sent (autoscaler.memory), so that this fleet's next request,
        which replaces it, does not drop the nodes that one asked for. Only the leader's fleet requests."""
        with self._lock:
            for name, floor in floors.items():
                if name in self._floor:
                    self._floor[name] = max(self._floor[name], min(floor, self._types[name].max_nodes))

    def nodes(self) -> list[FleetNode]:
        """Alive nodes of the fleet's types (running, or draining), then launching ones (see the module doc),
        sorted by type, state and id. `since_s` of an alive node is when this fleet first saw it alive (Ray's
        node table has no start time), of a requested one the last launch of its type."""
        with self._lock:
            alive, pending = self._snapshot()
            now = self._clock()
            result = [
                FleetNode(node_id, node_type, state, self._first_seen.setdefault(node_id, now), jobs)
                for node_id, (node_type, state, jobs) in alive.items()
            ]
            for node_id, node_type in self._launching(alive, pending).items():
                if node_id.startswith("requested:"):
                    since = self._asked_at[node_type] or now
                else:
                    since = self._first_seen.setdefault(node_id, now)
                result.append(FleetNode(node_id, node_type, "launching", since))
            seen = set(alive) | {node_id for ids in pending.values() for node_id in ids}
            self._first_seen = {node_id: at for node_id, at in self._first_seen.items() if node_id in seen}
            self._retired &= seen
            return sorted(result, key=lambda node: (node.node_type, node.state, node.node_id))

    def launch(self, node_type: str, count: int, request_id: str) -> None:
        """Raise the type's floor to max(floor, running nodes) + count and send all floors to Ray."""
        if node_type not in self._types:
            raise ValueError(f"unknown node type {node_type!r}")
        if count < 0:
            raise ValueError(f"count must not be negative, not {count}")
        with self._lock:
            if not self._first_time(request_id) or count == 0:
                return
            alive, _ = self._snapshot()
            limit = self._types[node_type].max_nodes
            wanted = max(self._floor[node_type], self._serving(alive, node_type)) + count
            if wanted > limit:
                self._error(node_type, "quota", f"{wanted} nodes wanted, max_nodes is {limit}", request_id)
            self._floor[node_type] = min(wanted, limit)
            self._asked_at[node_type] = self._clock()
            self._last_request_id[node_type] = request_id
            self._request()

    def drain(self, node_ids: Sequence[str], request_id: str) -> None:
        """Lower the floors, then drain: IDLE_TERMINATION for an idle node (it goes at once), PREEMPTION with no
        deadline for a busy one (Ray refuses to idle-terminate it). Unknown or dead nodes count as done; a
        launching node only lowers the floor (Ray cannot cancel a launch; the node idles out later)."""
        with self._lock:
            if not self._first_time(request_id):
                return
            alive, pending = self._snapshot()
            launching = self._launching(alive, pending)
            lowered: Counter[str] = Counter()
            to_drain: list[str] = []
            for node_id in dict.fromkeys(node_ids):
                node_type = alive[node_id][0] if node_id in alive else launching.get(node_id)
                if node_type is None or node_id in self._retired:
                    continue
                self._retired.add(node_id)
                lowered[node_type] += 1
                if node_id in alive and alive[node_id][1] == "running":
                    to_drain.append(node_id)
            for name, k in lowered.items():
                self._floor[name] = max(0, max(self._floor[name], self._serving(alive, name)) - k)
            if lowered:
                self._request()
            for node_id in to_drain:
                message = f"ebbflow fleet drain {request_id}"
                try:
                    drain_node(node_id, "idle", deadline_s=0, message=message)
                except DrainRefusedError:  # busy: its running work goes on, then the node goes
                    try:
                        drain_node(node_id, "preemption", deadline_s=0, message=message)
                    except DrainRefusedError as exc:
                        self._error(alive[node_id][0], "other", str(exc), request_id)

    def relay_interruption(self, node_id: str, deadline_s: float) -> None:
        """Pass on a spot interruption notice: drain with reason PREEMPTION and a deadline (jobs polling
        `stop_requested()` see it), keeping the floor so that Ray launches a replacement."""
        drain_node(node_id, "preemption", deadline_s=deadline_s, message="spot interruption notice")

    def poll_errors(self) -> list[FleetError]:
        """Quota errors of `launch`, refused drains, and the failed launches Ray's v2 autoscaler reports
        (`ClusterStatus.failed_launches`), each once."""
        with self._lock:
            self._absorb_failures(self._status())
            errors, self._errors = self._errors, []
            return errors

    def spot_prices(self) -> dict[str, float]:
        """Ray knows no prices: those of the injected source (autoscaler.spot_prices), for this fleet's spot
        types. A source that fails (EC2 unreachable, say) gives none this round, so no spot type is launched
        on a guess, and the failure is logged."""
        spot = {name for name, node_type in self._types.items() if node_type.market is Market.SPOT}
        try:
            prices = self._prices()
        except Exception as err:  # the source is the caller's (boto3, a feed): any failure means "no price now"
            log.warning("spot prices unavailable: %s", err)
            return {}
        return {name: float(price) for name, price in prices.items() if name in spot}

    # -- internals ---------------------------------------------------------------------------------------------

    def _first_time(self, request_id: str) -> bool:
        if request_id in self._requests:
            return False
        self._requests[request_id] = None
        while len(self._requests) > REMEMBERED_REQUESTS:
            self._requests.popitem(last=False)
        return True

    def _request(self) -> None:
        bundles: list[dict[str, float]] = []
        for name, floor in self._floor.items():
            bundles += [{node_type_resource(self._types[name]): 1}] * floor
        # request_resources picks its path (v1 internal KV, or v2 GCS requests) from a per-process cache of
        # "is this cluster's autoscaler v2?", filled by the first cluster the process asked. Asked afresh, a
        # process that talked to another cluster before (a test run, a restarted head) reaches this one's.
        is_autoscaler_v2(fetch_from_server=True)
        request_resources(bundles=bundles)

    def _status(self) -> Any:
        if self._gcs_address is None:
            self._gcs_address = str(ray.get_runtime_context().gcs_address)
        return get_cluster_status(self._gcs_address)

    def _absorb_failures(self, status: Any) -> None:
        """Turn launches Ray reports as failed, and not seen before, into FleetErrors, and lower the floor by
        them: like a failed cloud launch, a failed node is not coming, and the caller decides what instead
        (Ray would otherwise retry the same type for as long as the floor stands)."""
        current: Counter[tuple[str, int, int, str]] = Counter()
        for failed in status.failed_launches:
            if failed.ray_node_type_name in self._types:
                key = (failed.ray_node_type_name, failed.request_ts_s, failed.failed_ts_s or 0, failed.details or "")
                current[key] += max(1, failed.count)
        lowered = False
        for (name, _, failed_at, details), count in (current - self._reported_failures).items():
            kind = _failure_kind(details)
            self._errors += [FleetError(name, kind, float(failed_at), details, self._last_request_id[name])] * count
            lowered |= self._floor[name] > 0
            self._floor[name] = max(0, self._floor[name] - count)
        self._reported_failures = current  # Ray forgets old failures after a while; so may we
        if lowered:
            self._request()

    def _snapshot(self) -> tuple[_Alive, dict[str, list[str]]]:
        """Alive nodes of our types (id -> (type, running|draining, running jobs)), and the ids of the launches
        Ray has pending per type."""
        status = self._status()
        self._absorb_failures(status)
        draining = _draining_node_ids()
        alive: _Alive = {}
        for node in [*status.active_nodes, *status.idle_nodes]:
            totals: dict[str, float] = node.total_resources()
            node_type = next((self._by_resource[r] for r in totals if r in self._by_resource and totals[r] > 0), None)
            if node_type is None or node.node_id is None:
                continue
            state: NodeState = "draining" if node.node_id in draining or node.node_status == "DRAINING" else "running"
            used: dict[str, float] = node.used_resources()
            alive[node.node_id] = (node_type.name, state, int(used.get(MARKET_RESOURCE[node_type.market], 0)))
        pending: dict[str, list[str]] = {}
        for launch in status.pending_launches:
            if launch.ray_node_type_name in self._types:
                ids = [f"pending:{launch.ray_node_type_name}:{launch.request_ts_s}:{i}" for i in range(launch.count)]
                pending.setdefault(launch.ray_node_type_name, []).extend(ids)
        for instance in status.pending_nodes:
            if instance.ray_node_type_name in self._types:
                pending.setdefault(instance.ray_node_type_name, []).append(instance.instance_id)
        return alive, pending

    def _launching(self, alive: _Alive, pending: Mapping[str, list[str]]) -> dict[str, str]:
        """Launching node id -> type: Ray's pending launches, plus each type's shortfall (floor - running -
        Ray's pending) as "requested:<type>:<i>"."""
        launching = {node_id: name for name, ids in pending.items() for node_id in ids}
        for name, floor in self._floor.items():
            missing = floor - self._serving(alive, name) - len(pending.get(name, []))
            launching.update({f"requested:{name}:{i}": name for i in range(max(0, missing))})
        return launching

    @staticmethod
    def _serving(alive: _Alive, name: str) -> int:
        return sum(1 for node_type, state, _ in alive.values() if node_type == name and state == "running")

    def _error(self, node_type: str, kind: ErrorKind, message: str, request_id: str) -> None:
        self._errors.append(FleetError(node_type, kind, self._clock(), message, request_id))


_FAILURE_WORDS: tuple[tuple[tuple[str, ...], ErrorKind], ...] = (
    (("capacity",), "capacity"),
    (("price",), "price"),
    (("quota", "limit"), "quota"),
)


def _failure_kind(details: str) -> ErrorKind:
    text = details.lower()
    return next((kind for words, kind in _FAILURE_WORDS if any(word in text for word in words)), "launch")
