"""The day chart of a simulated run: queue depth per level, nodes per market, and the spot price, over
the hours of the trace (matplotlib, written to a PNG without a display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen here or in CI
import matplotlib.pyplot as plt  # the backend was chosen first

from autoscaler.simulate.results import SimResult

LEVEL_NAMES = ("urgent", "daily", "weekly", "background")


def draw(results: list[SimResult], path: str | Path, hours: tuple[float, float] | None = None) -> Path:
    """One column per policy: depth per level, nodes per market, spot price; `hours` limits the x range."""
    figure, axes = plt.subplots(3, len(results), figsize=(6 * len(results), 8), sharex=True, squeeze=False)
    for column, result in enumerate(results):
        series = result.series
        hours_axis = [t / 3600 for t in series.get("t", [])]
        depth, nodes, price = axes[0][column], axes[1][column], axes[2][column]
        for level, name in enumerate(LEVEL_NAMES):
            depth.plot(hours_axis, series.get(f"depth_{level}", []), label=name, linewidth=0.8)
        depth.set_title(result.policy)
        depth.set_ylabel("jobs waiting")
        depth.legend(fontsize=7, loc="upper right")
        nodes.plot(hours_axis, series.get("nodes_spot", []), label="spot", linewidth=0.8)
        nodes.plot(hours_axis, series.get("nodes_ondemand", []), label="on-demand", linewidth=0.8)
        nodes.set_ylabel("nodes")
        nodes.legend(fontsize=7, loc="upper right")
        price.plot(hours_axis, series.get("spot_price", []), color="tab:red", linewidth=0.8)
        price.set_ylabel("mean spot $/h")
        price.set_xlabel("hours since the trace began")
        if hours is not None:
            price.set_xlim(*hours)
    figure.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=90)
    plt.close(figure)
    return out
