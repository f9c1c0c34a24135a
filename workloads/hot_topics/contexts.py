"""A trend's context from the words that come with it: the map step's arithmetic, on Arrow columns.

For one place and hour, every tweet is a document. A tweet belongs to each trend whose name it contains. For a
trend t and a word w, support(t, w) counts t's tweets that contain w, and lift(t, w) compares w's share of t's
tweets with its share of all the hour's tweets. Words that come with every trend ("just", "watched") have a lift
near 1 and drop out; words that come with this trend far more often than with others ("election" with "Obama")
are its context. A word is kept when its support is at least `min_support` tweets and `min_share` of the trend's
tweets, and its lift at least `min_lift`; the kept words are ranked by support x log(lift), ties by word.

The text work is pyarrow.compute kernels over whole columns (lower-casing, dropping URLs and mentions, splitting,
filtering, dictionary-encoding the words). The counting then runs on the encoded columns as numpy integer
arrays (zero-copy views of the Arrow buffers): one sort makes the (tweet, word) pairs distinct, and one bincount
per trend counts its support. A map job sees one place's few hundred tweets, so what matters is the fixed cost
per call: an Arrow group-by or join costs ~0.5-1 ms to set up, a bincount a few microseconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from workloads.sources.urls import video_id_from_url

# URLs and mentions say nothing about a topic; '#' stays in a word so a hashtag is its own word.
_NOISE = r"https?://\S+|@\w+"
_SPLIT = r"[^\w#']+"
_SPLIT_WORDS = re.compile(_SPLIT, re.ASCII)  # the same split in Python (RE2's \w is ASCII too), for short names
STOP_WORDS = pa.array(
    ["the", "and", "for", "with", "this", "that", "you", "are", "was", "but", "not", "have", "has", "its", "it's",
     "from", "they", "what", "all", "can", "our", "out", "who", "will", "just", "amp", "rt", "via"]
)  # fmt: skip

Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


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


@dataclass(frozen=True)
class Pairs:
    """Distinct (document, item) pairs: `docs[i]` holds `items[i]`, an index into `names`."""

    docs: Ints
    items: Ints
    names: list[str]


def lowered(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    array = pc.utf8_lower(texts)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def words_of(lower_texts: pa.Array, min_length: int = 3) -> Pairs:
    """Each tweet's words, once per tweet, without URLs, mentions, stop words and words shorter than
    `min_length`. `lower_texts` comes from `lowered`."""
    words = pc.split_pattern_regex(pc.replace_substring_regex(lower_texts, _NOISE, " "), _SPLIT)
    flat, docs = pc.list_flatten(words), pc.list_parent_indices(words)
    keep = pc.and_(pc.greater_equal(pc.utf8_length(flat), min_length), pc.invert(pc.is_in(flat, value_set=STOP_WORDS)))
    return _distinct(docs.filter(keep), flat.filter(keep))


def trend_masks(lower_texts: pa.Array, trends: Sequence[str]) -> list[Mask]:
    """Per trend, which tweets mention it (a case-insensitive substring, as X's search matches)."""
    return [
        pc.match_substring(lower_texts, trend.lower()).to_numpy(zero_copy_only=False).astype(bool) for trend in trends
    ]


def infer_contexts(
    texts: pa.Array | pa.ChunkedArray,
    trends: Sequence[str],
    rules: ContextRules | None = None,
    masks: list[Mask] | None = None,
) -> list[TrendContext]:
    """Each trend's context in this batch of tweets, in the order the trends were given. `masks` (from
    `trend_masks`) may be passed when the caller needs them too."""
    rules = rules or ContextRules()
    lower_texts = lowered(texts)
    words = words_of(lower_texts, rules.min_length)
    masks = masks if masks is not None else trend_masks(lower_texts, trends)
    document_frequency = np.bincount(words.items, minlength=len(words.names))
    share_of_all = document_frequency / max(1, len(texts))
    return [_context(trend, mask, words, share_of_all, rules) for trend, mask in zip(trends, masks, strict=True)]


def video_shares(
    links: pa.Array | pa.ChunkedArray, masks: list[Mask], trends: Sequence[str]
) -> dict[str, list[tuple[str, int]]]:
    """Per trend, the videos its tweets link to and in how many of its tweets, most shared first (ties by id)."""
    if isinstance(links, pa.ChunkedArray):
        links = links.combine_chunks()
    flat, docs = pc.list_flatten(links), pc.list_parent_indices(links)
    distinct = pc.unique(flat)
    # Each distinct link is parsed once in Python: the URL forms are too many for one regular expression.
    ids = pa.array([video_id_from_url(link) for link in distinct.to_pylist()], pa.string())
    videos = pc.take(ids, pc.index_in(flat, value_set=distinct))
    valid = pc.is_valid(videos)
    pairs = _distinct(docs.filter(valid), videos.filter(valid))
    out: dict[str, list[tuple[str, int]]] = {}
    for trend, mask in zip(trends, masks, strict=True):
        counts = np.bincount(pairs.items[mask[pairs.docs]], minlength=len(pairs.names))
        shared = [(pairs.names[i], int(counts[i])) for i in np.flatnonzero(counts)]
        if shared:
            out[trend] = sorted(shared, key=lambda item: (-item[1], item[0]))
    return out


def own_words(trend: str) -> frozenset[str]:
    """A trend's own words never count as its context: "#FooBar" -> #foobar and foobar; "Foo Bar" -> foo, bar."""
    parts = {part for part in _SPLIT_WORDS.split(trend.lower()) if part}
    return frozenset(parts | {part.lstrip("#") for part in parts})


def _context(
    trend: str, mask: Mask, words: Pairs, share_of_all: npt.NDArray[np.float64], rules: ContextRules
) -> TrendContext:
    tweets = int(mask.sum())
    if tweets == 0:
        return TrendContext(trend, 0, (), ())
    support = np.bincount(words.items[mask[words.docs]], minlength=len(words.names))
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = (support / tweets) / share_of_all
    enough = (support >= rules.min_support) & (support >= rules.min_share * tweets) & (lift >= rules.min_lift)
    excluded = own_words(trend)
    candidates = [
        (int(support[i]) * math.log(float(lift[i])), words.names[i], int(support[i]))
        for i in np.flatnonzero(enough)
        if words.names[i] not in excluded
    ]
    best = sorted(candidates, key=lambda c: (-c[0], c[1]))[: rules.top]
    return TrendContext(trend, tweets, tuple(c[1] for c in best), tuple(c[2] for c in best))


def _distinct(docs: pa.Array, items: pa.Array) -> Pairs:
    """The distinct (doc, item) pairs, items dictionary-encoded: one sort of doc * len(names) + item."""
    encoded = pc.dictionary_encode(items)
    names = [str(name) for name in encoded.dictionary.to_pylist()]
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    keys = np.unique(docs.to_numpy(zero_copy_only=False).astype(np.int64) * max(1, len(names)) + codes)
    return Pairs(keys // max(1, len(names)), keys % max(1, len(names)), names)
