"""What the demo measured: jobs and waits per level (from the scheduler's history), jobs per type, the spot
reclaims survived, and what the fleet cost (node-seconds sampled during the run, priced as they ran)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autoscaler.fleet import FleetNode, NodeType
from dispatcher.inflight import DispatchCounts
from dispatcher.markets import Market
from ebbflow.demo.fleet import price_per_hour
from scheduler.history import TimingSummary, merge, summarize
from scheduler.store import HistoryBucket

BILLED_STATES = ("running", "draining")  # a launching fake node costs nothing yet; a draining one still bills


@dataclass
class CostMeter:
    """Integrates the fleet's cost over the run from periodic samples of its nodes and prices."""

    node_types: Mapping[str, NodeType]
    cost_usd: float = 0.0
    ondemand_usd: float = 0.0  # the same node-hours bought on demand: what spot saved
    node_s: dict[Market, float] = field(default_factory=lambda: dict.fromkeys(Market, 0.0))
    peak_nodes: Counter[Market] = field(default_factory=Counter)
    _last_s: float | None = None

    def sample(self, nodes: Iterable[FleetNode], spot_prices: dict[str, float], now_s: float) -> None:
        billed = [node for node in nodes if node.state in BILLED_STATES and node.node_type in self.node_types]
        per_market = Counter(self.node_types[node.node_type].market for node in billed)
        for market, count in per_market.items():
            self.peak_nodes[market] = max(self.peak_nodes[market], count)
        if self._last_s is not None:
            hours = (now_s - self._last_s) / 3600
            for node in billed:
                node_type = self.node_types[node.node_type]
                self.cost_usd += price_per_hour(node_type, spot_prices) * hours
                self.ondemand_usd += node_type.ondemand_price * hours
                self.node_s[node_type.market] += hours * 3600
        self._last_s = now_s


@dataclass(frozen=True, slots=True)
class LevelFigures:
    name: str
    finished: int
    wait: TimingSummary


@dataclass
class DemoReport:
    seed: int
    run_s: float
    submitted: Counter[str]  # jobs queued per arrival kind
    levels: list[LevelFigures]
    finished_per_type: Counter[str]
    counts: DispatchCounts
    reclaimed_nodes: list[str]
    dead_letters: int
    left_pending: int  # still queued when the run ended (kept in the queue, not lost)
    cost: CostMeter
    launches: int
    drains: int
    videos_indexed: int
    videos_stale: int
    workdir: Path
    chart: Path | None = None


def level_figures(history: Sequence[HistoryBucket], level_names: Sequence[str]) -> list[LevelFigures]:
    """Finished runs and the wait before each lease, per level, merged from the per-minute history."""
    figures = []
    for level, name in enumerate(level_names):
        buckets = [bucket for bucket in history if bucket.level == level]
        waits = merge(bucket.wait_hist for bucket in buckets)
        figures.append(LevelFigures(name, sum(bucket.finished for bucket in buckets), summarize(waits)))
    return figures


def finished_per_type(history: Sequence[HistoryBucket]) -> Counter[str]:
    finished: Counter[str] = Counter()
    for bucket in history:
        finished[bucket.type] += bucket.finished
    return finished
