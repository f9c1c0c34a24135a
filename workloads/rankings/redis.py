"""The Rankings port on Redis (see workloads.rankings.base for the contract).

Key layout, built by `RankingKeys` and nowhere else:

    {prefix}rank:{name}       zset  the ranking's members, scored by their NEGATED score: ascending order is
                                    then best first with ties by member ascending, which is top()'s order, so
                                    top() is one ZRANGE and trimming drops ranks max_len.. (ZREMRANGEBYRANK)
    {prefix}holders:{member}  set   names of the rankings holding member: remove_everywhere needs no scan
    {prefix}names             set   names of the rankings with at least one member (an emptied one is gone)

add, replace, remove_everywhere and delete are Lua scripts (workloads/rankings/lua/), so the three kinds of
keys stay in step whatever runs beside them and no reader sees half a replace; each is one call per batch. The
scripts derive ranking and holder keys from data, so they need a single Redis server (not a Cluster).
Connection errors propagate to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, cast

import redis
from redis.commands.core import Script

from workloads.rankings.base import DEFAULT_MAX_LEN

SCRIPTS = ("add", "replace", "remove_everywhere", "delete")


class RankingKeys:
    """Every key of one prefix (the layout is in the module docstring)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.names = f"{prefix}names"
        self.rank_prefix = f"{prefix}rank:"
        self.holders_prefix = f"{prefix}holders:"

    def rank(self, name: str) -> str:
        return self.rank_prefix + name

    def holders(self, member: str) -> str:
        return self.holders_prefix + member


def _load_scripts(client: redis.Redis) -> dict[str, Script]:
    folder = resources.files("workloads.rankings") / "lua"
    return {name: client.register_script((folder / f"{name}.lua").read_text("utf-8")) for name in SCRIPTS}


class RedisRankings:
    """The Rankings port on Redis. The client must decode responses (decode_responses=True); close() closes it."""

    def __init__(self, client: redis.Redis, prefix: str, max_len: int = DEFAULT_MAX_LEN) -> None:
        if not client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisRankings needs a client made with decode_responses=True")
        if max_len < 1:
            raise ValueError(f"max_len must be at least 1, got {max_len}")
        self.keys = RankingKeys(prefix)
        self.max_len = max_len
        self._client = client
        self._scripts = _load_scripts(client)

    def _run(self, script: str, keys: list[str], args: list[Any]) -> int:
        return int(self._scripts[script](keys=keys, args=args, client=self._client))

    def add(self, name: str, scores: Mapping[str, float]) -> int:
        if not scores:
            return 0
        pairs = [arg for member, score in scores.items() for arg in (-float(score), member)]
        keys = [self.keys.rank(name), self.keys.names]
        return self._run("add", keys, [self.keys.holders_prefix, name, self.max_len, *pairs])

    def replace(self, name: str, scores: Mapping[str, float]) -> None:
        pairs = [arg for member, score in scores.items() for arg in (-float(score), member)]
        keys = [self.keys.rank(name), self.keys.names]
        self._run("replace", keys, [self.keys.holders_prefix, name, self.max_len, *pairs])

    def top(self, name: str, n: int) -> list[tuple[str, float]]:
        if n <= 0:  # ZRANGE 0 -1 would mean everything
            return []
        # redis-py's return type covers every client and option: this one decodes, and gives scores.
        entries = cast("list[tuple[str, float]]", self._client.zrange(self.keys.rank(name), 0, n - 1, withscores=True))
        return [(member, -score) for member, score in entries]

    def remove_everywhere(self, members: Sequence[str]) -> int:
        if not members:
            return 0
        args = [self.keys.rank_prefix, self.keys.holders_prefix, *dict.fromkeys(members)]
        return self._run("remove_everywhere", [self.keys.names], args)

    def delete(self, name: str) -> None:
        self._run("delete", [self.keys.rank(name), self.keys.names], [self.keys.holders_prefix, name])

    def names(self, prefix: str = "") -> list[str]:
        names = cast("set[str]", self._client.smembers(self.keys.names))
        return sorted(name for name in names if name.startswith(prefix))

    def close(self) -> None:
        self._client.close()
