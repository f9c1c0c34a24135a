"""A trend's context from the words that come with it: the map step's arithmetic, in Arrow.

For one place and hour, every tweet is a document. A tweet belongs to each trend whose name it contains. For a
trend t and a word w, support(t, w) counts t's tweets that contain w, and lift(t, w) compares w's share of t's
tweets with its share of all the hour's tweets. Words that come with every trend ("just", "watched") have a lift
near 1 and drop out; words that come with this trend far more often than with others ("election" with "Obama")
are its context. A word is kept when its support is at least `min_support` tweets and `min_share` of the trend's
tweets, and its lift at least `min_lift`; the kept words are ranked by support x log(lift).

Everything runs as Arrow compute kernels over whole columns (tokenising, de-duplicating words per tweet, the
joins and group-bys), so the Python cost is per trend, not per tweet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from workloads.sources.urls import video_id_from_url

# URLs and mentions say nothing about a topic; '#' stays in a word so a hashtag is its own word.
_NOISE = r"https?://\S+|@\w+"
_SPLIT = r"[^\w#']+"
STOP_WORDS = pa.array(
    ["the", "and", "for", "with", "this", "that", "you", "are", "was", "but", "not", "have", "has", "its", "it's",
     "from", "they", "what", "all", "can", "our", "out", "who", "will", "just", "amp", "rt", "via"]
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ContextRules:
    top: int = 3  # context words kept per trend
    min_support: int = 3
    min_share: float = 0.05
    min_lift: float = 1.5
    min_length: int = 3  # shorter words are noise ("so", "at")


@dataclass(frozen=True, slots=True)
class TrendContext:
    trend: str
    tweets: int  # tweets of the hour that mention the trend
    terms: tuple[str, ...]  # its context words, best first
    support: tuple[int, ...]  # tweets of the trend that hold each word


def words_of(texts: pa.Array | pa.ChunkedArray, min_length: int = 3) -> pa.Table:
    """(doc, word) pairs, each once per document (`doc` is the text's row number), without stop words and words
    shorter than `min_length`."""
    lowered = pc.replace_substring_regex(pc.utf8_lower(texts), _NOISE, " ")
    words = pc.split_pattern_regex(lowered, _SPLIT)
    if isinstance(words, pa.ChunkedArray):
        words = words.combine_chunks()
    pairs = pa.table({"doc": pc.list_parent_indices(words), "word": pc.list_flatten(words)})
    keep = pc.and_(
        pc.greater_equal(pc.utf8_length(pairs["word"]), min_length),
        pc.invert(pc.is_in(pairs["word"], value_set=STOP_WORDS)),
    )
    return pairs.filter(keep).group_by(["doc", "word"], use_threads=False).aggregate([])


def trend_members(texts: pa.Array | pa.ChunkedArray, trends: Sequence[str]) -> pa.Table:
    """(doc, trend) pairs: which tweets mention which trend (a case-insensitive substring, as X's search)."""
    lowered = pc.utf8_lower(texts)
    docs: list[pa.Array] = []
    names: list[pa.Array] = []
    for trend in trends:
        hits = pc.indices_nonzero(pc.match_substring(lowered, trend.lower())).cast(pa.int64())
        docs.append(hits)
        names.append(pa.array([trend] * len(hits), pa.string()))
    if not docs:
        return pa.table({"doc": pa.array([], pa.int64()), "trend": pa.array([], pa.string())})
    return pa.table({"doc": pa.concat_arrays(docs), "trend": pa.concat_arrays(names)})


def infer_contexts(
    texts: pa.Array | pa.ChunkedArray,
    trends: Sequence[str],
    rules: ContextRules | None = None,
    members: pa.Table | None = None,
) -> list[TrendContext]:
    """Each trend's context in this batch of tweets, in the order the trends were given. `members` (from
    `trend_members`) may be passed when the caller needs them too."""
    rules = rules or ContextRules()
    total = len(texts)
    words = words_of(texts, rules.min_length)
    members = members if members is not None else trend_members(texts, trends)
    tweets_per_trend = _counts(members, "trend")
    document_frequency = _counts(words, "word")
    pairs = members.join(words, keys="doc", join_type="inner", use_threads=False)
    support = pairs.group_by(["trend", "word"], use_threads=False).aggregate([("doc", "count")])
    candidates: dict[str, list[tuple[float, str, int]]] = {trend: [] for trend in trends}
    excluded = {trend: own_words(trend) for trend in trends}
    for trend, word, count in zip(
        support["trend"].to_pylist(), support["word"].to_pylist(), support["doc_count"].to_pylist(), strict=True
    ):
        trend_tweets = tweets_per_trend[trend]
        if count < rules.min_support or count < rules.min_share * trend_tweets or word in excluded[trend]:
            continue
        lift = (count / trend_tweets) / (document_frequency[word] / total)
        if lift >= rules.min_lift:
            candidates[trend].append((count * math.log(lift), word, count))
    out = []
    for trend in trends:
        best = sorted(candidates[trend], key=lambda c: (-c[0], c[1]))[: rules.top]
        out.append(
            TrendContext(trend, tweets_per_trend.get(trend, 0), tuple(c[1] for c in best), tuple(c[2] for c in best))
        )
    return out


def _counts(table: pa.Table, column: str) -> dict[str, int]:
    counted = table.group_by(column, use_threads=False).aggregate([("doc", "count")])
    return dict(zip(counted[column].to_pylist(), counted["doc_count"].to_pylist(), strict=True))


def own_words(trend: str) -> frozenset[str]:
    """A trend's own words never count as its context: "#FooBar" -> #foobar and foobar; "Foo Bar" -> foo, bar."""
    lowered = trend.lower()
    parts = {part for part in pc.split_pattern_regex(pa.array([lowered]), _SPLIT)[0].as_py() or [] if part}
    return frozenset(parts | {part.lstrip("#") for part in parts})


def video_shares(links: pa.Array | pa.ChunkedArray, members: pa.Table) -> dict[str, list[tuple[str, int]]]:
    """Per trend, the videos its tweets link to and in how many of its tweets, most shared first."""
    if isinstance(links, pa.ChunkedArray):
        links = links.combine_chunks()
    flat = pa.table({"doc": pc.list_parent_indices(links), "link": pc.list_flatten(links)})
    distinct = pc.unique(flat["link"])
    ids = pa.array([video_id_from_url(link) for link in distinct.to_pylist()], pa.string())  # per distinct link
    flat = flat.append_column("video", pc.take(ids, pc.index_in(flat["link"], value_set=distinct)))
    flat = flat.filter(pc.is_valid(flat["video"])).select(["doc", "video"])
    per_doc = flat.group_by(["doc", "video"], use_threads=False).aggregate([])
    counted = members.join(per_doc, keys="doc", join_type="inner", use_threads=False).group_by(
        ["trend", "video"], use_threads=False
    )
    shares = counted.aggregate([("doc", "count")]).sort_by([("doc_count", "descending"), ("video", "ascending")])
    out: dict[str, list[tuple[str, int]]] = {}
    for trend, video, count in zip(
        shares["trend"].to_pylist(), shares["video"].to_pylist(), shares["doc_count"].to_pylist(), strict=True
    ):
        out.setdefault(trend, []).append((video, count))
    return out
