"""The Rankings port: named ranked lists of videos (a user's social stream, a WOEID's hot videos for an hour).

Two implementations share this contract: `RedisRankings` (a sorted set per ranking, plus a set per member
listing the rankings that hold it, so a stale video leaves every ranking in one call) and `SQLiteRankings`
(the embedded default). tests/workloads/contracts/ runs one suite against both.

Contract:
* `add(name, scores)` sets each member's score in that ranking (adding it if new; idempotent) and keeps at
  most `max_len` members per ranking, dropping the lowest scores; it returns how many members were new.
* `top(name, n)` gives the n best (highest score first; ties by member, ascending).
* `replace(name, scores)` makes the ranking hold exactly these members with these scores (trimmed to
  `max_len` as add trims), atomically: a reader sees the old list or the new one, never a mix nor an
  empty list in between. Members that left no longer count the ranking among their holders, so
  remove_everywhere stays exact. Replacing with an empty mapping deletes the ranking; replacing twice with
  the same scores changes nothing.
* `remove_everywhere(members)` removes the members from every ranking that holds them; returns how many
  (ranking, member) entries went. Running it twice removes nothing more.
* `delete(name)` drops a ranking; `names(prefix)` lists rankings whose name starts with prefix.
* Names and members are strings of at most 200 characters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

DEFAULT_MAX_LEN = 1000  # a social stream or an hour's hot list never needs more


class Rankings(Protocol):
    def add(self, name: str, scores: Mapping[str, float]) -> int: ...

    def replace(self, name: str, scores: Mapping[str, float]) -> None: ...

    def top(self, name: str, n: int) -> list[tuple[str, float]]: ...

    def remove_everywhere(self, members: Sequence[str]) -> int: ...

    def delete(self, name: str) -> None: ...

    def names(self, prefix: str = "") -> list[str]: ...

    def close(self) -> None: ...
