"""Autoscaler decision time: decide + guard on a snapshot of 10,000 nodes and 50 node types, beside a floor
measured in the same run: one pass that only counts the snapshot's nodes per node type and state, which any
policy must at least do. Target: decide + guard <= 50 ms.

    python bench/autoscaler_loop.py [--nodes 10000] [--types 50] [--runs 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from autoscaler.config import AutoscalerConfig, GuardConfig
from autoscaler.decide import decide
from autoscaler.fleet import FleetError, FleetNode, NodeState, NodeType
from autoscaler.guard import guard
from autoscaler.snapshot import Action, Demand, Snapshot
from dispatcher.markets import Market

console = Console(width=None if sys.stdout.isatty() else 120)
NOW = 1_800_000_000.0
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f")
SIZES = (("large", 2, 0.096), ("xlarge", 4, 0.192), ("2xlarge", 8, 0.384), ("4xlarge", 16, 0.768))
FAMILIES = ("m5", "c5", "r5", "m6i", "c6i", "r6i")


def node_types(count: int, rng: random.Random) -> list[NodeType]:
    types: list[NodeType] = []
    for family in FAMILIES:
        for size, slots, price in SIZES:
            for zone in ZONES:
                market = Market.ON_DEMAND if len(types) % 10 == 9 else Market.SPOT
                name = f"{market.value}-{family}-{size}-{zone[-1]}"
                types.append(NodeType(name, market, f"{family}.{size}", zone, slots, price, max_nodes=10_000))
    rng.shuffle(types)
    return types[:count]


def snapshot(nodes: int, types: int, seed: int = 7) -> Snapshot:
    rng = random.Random(seed)
    kinds = node_types(types, rng)
    states: tuple[NodeState, ...] = ("running",) * 8 + ("launching", "draining")
    fleet = tuple(
        FleetNode(f"n{i}", rng.choice(kinds).name, rng.choice(states), NOW - rng.uniform(0, 7200), rng.randint(0, 8))
        for i in range(nodes)
    )
    demand = tuple(
        Demand(level, f"type{t}", rng.randint(1, 10**6), rng.uniform(1e3, 1e8), rng.choice((None, 600.0, 3600.0)))
        for level in range(4)
        for t in range(50)
    )
    prices = {t.name: t.ondemand_price * rng.uniform(0.2, 0.5) for t in kinds if t.market is Market.SPOT}
    errors = tuple(FleetError(rng.choice(kinds).name, "capacity", NOW - rng.uniform(0, 3000), "x") for _ in range(100))
    actions = tuple(Action(NOW - rng.uniform(0, 3600), "launch", rng.choice(kinds).name, 1) for _ in range(200))
    preemptions = {t.name: rng.randint(0, 5) for t in kinds}
    return Snapshot(
        at_s=NOW,
        inputs_at_s=NOW - 5,
        node_types=tuple(kinds),
        nodes=fleet,
        demand=demand,
        busy_slots={Market.SPOT: nodes * 3, Market.ON_DEMAND: 40},
        spot_prices=prices,
        errors=errors,
        preemptions=preemptions,
        actions=actions,
    )


def timed(action: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--types", type=int, default=50)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    snap = snapshot(args.nodes, args.types)
    config = AutoscalerConfig(guard=GuardConfig(max_nodes=100_000, budget_per_hour=1e6, max_launch_per_hour=10**6))
    decision = guard(decide(snap, config), snap, config)
    policy = timed(lambda: guard(decide(snap, config), snap, config), args.runs)
    floor = timed(lambda: Counter((n.node_type, n.state) for n in snap.nodes), args.runs)
    table = Table(title=f"autoscaler decision: {args.nodes:,} nodes, {args.types} node types, {args.runs} runs")
    for column in ("measure", "p50", "p99", "target"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    p99 = sorted(policy)[int(0.99 * (len(policy) - 1))]
    table.add_row("decide + guard", f"{statistics.median(policy) * 1000:.2f} ms", f"{p99 * 1000:.2f} ms", "<= 50 ms")
    floor_p99 = sorted(floor)[int(0.99 * (len(floor) - 1))]
    table.add_row(
        "floor: count nodes per type and state",
        f"{statistics.median(floor) * 1000:.2f} ms",
        f"{floor_p99 * 1000:.2f} ms",
        "",
    )
    table.add_row(
        "ratio decide + guard / floor", f"{statistics.median(policy) / statistics.median(floor):.1f}x", "", ""
    )
    console.print(table)
    launched = sum(decision.launches.values())
    console.print(
        f"the decision: launch {launched} nodes over {len(decision.launches)} types, drain {len(decision.drains)}"
    )


if __name__ == "__main__":
    main()
