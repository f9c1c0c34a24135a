"""Where the hot-topics pack keeps its files in the archive (one Parquet file per partition, hive-style folders,
so DuckDB, Spark or pyarrow.dataset read them as one table with date, hour and woeid columns):

    hot-topics/tweets/date=2026-12-01/hour=05/woeid=23424977/part-0.parquet     the hour's raw tweets (map input)
    hot-topics/trends/date=.../hour=.../woeid=.../part-0.parquet                the place's trends (map input)
    hot-topics/contexts/date=.../hour=.../woeid=.../part-0.parquet              each trend's context (map output)
    hot-topics/hot/date=.../hour=.../part-0.parquet                             the ranked videos (reduce output)

A map writes its inputs before its output, and the trends file after the tweets: a re-run that finds the trends
file reads the same inputs again instead of asking X (which only serves the current hour's trends).
"""

from __future__ import annotations

from workloads.hot_topics.hours import label, partition

ROOT = "hot-topics"
PART = "part-0.parquet"


def tweets(hour_ms: int, woeid: int) -> str:
    return f"{ROOT}/tweets/{partition(hour_ms)}/woeid={woeid}/{PART}"


def trends(hour_ms: int, woeid: int) -> str:
    return f"{ROOT}/trends/{partition(hour_ms)}/woeid={woeid}/{PART}"


def contexts(hour_ms: int, woeid: int) -> str:
    return f"{ROOT}/contexts/{partition(hour_ms)}/woeid={woeid}/{PART}"


def contexts_folder(hour_ms: int) -> str:
    return f"{ROOT}/contexts/{partition(hour_ms)}"


def hot(hour_ms: int) -> str:
    return f"{ROOT}/hot/{partition(hour_ms)}/{PART}"


def ranking_name(place: str | int, hour_ms: int) -> str:
    """The ranking a reduce writes for a place (a WOEID, or "global") and hour: `hot:23424977:2026-12-01T05`."""
    return f"hot:{place}:{label(hour_ms)}"


def woeid_of(relative: str) -> int | None:
    """The woeid= folder a listed file sits in (None when it has none)."""
    for part in relative.split("/"):
        if part.startswith("woeid=") and part[6:].isdigit():
            return int(part[6:])
    return None
