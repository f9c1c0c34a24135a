"""Finding packs: every installed package may list `Pack` values under the `ebbflow.packs` entry point group
(`[project.entry-points."ebbflow.packs"] my-pack = "my_pkg.pack:PACK"`)."""

from __future__ import annotations

from importlib.metadata import entry_points

from scheduler.errors import ConfigError, InvalidJobError
from workloads.pack import Pack

ENTRY_POINT_GROUP = "ebbflow.packs"


def load_packs() -> dict[str, Pack]:
    packs: dict[str, Pack] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            pack = entry_point.load()
        except Exception as err:  # a broken third-party pack must say which one, not crash with an ImportError
            raise ConfigError(
                f"pack entry point {entry_point.name!r} ({entry_point.value}) cannot load: {err}"
            ) from err
        if not isinstance(pack, Pack):
            raise ConfigError(f"pack entry point {entry_point.name!r} ({entry_point.value}) is not a workloads.Pack")
        packs[pack.name] = pack
    return packs


def find_pack(packs: dict[str, Pack], name: str) -> Pack:
    try:
        return packs[name]
    except KeyError:
        known = ", ".join(sorted(packs)) or "none installed"
        raise InvalidJobError(
            "PACK", f"{name!r} is not an installed pack (installed: {known}); see `ebbflow pack list`"
        ) from None
