"""The reduce's arithmetic, pure: merging the places' contexts per trend, and scoring videos per place.

Merging: a trend is the same trend wherever it trends (names compared without case). Its global context adds up
each place's support for its context words and keeps the best; a place with little data (few tweets) gets a
sharper search from the global view than from its own.

Scoring, for place p (or the global view, which pools every place's tweets):

    weight(t)      = (tweets of t + 1) / sum over p's trends (tweets + 1)     the trend's share of the talk
    search(t, v)   = 1 / (1 + v's position in the search for t + its context)
    relevance(t, v)= (tweets of t linking v + PRIOR * search(t, v)) / (tweets of t + PRIOR)
    score(v)       = sum over p's trends t of weight(t) * relevance(t, v)

The search is a prior worth PRIOR tweets, and the trend's own tweets update it: a trend with a handful of tweets
is ranked by the search, one with thousands by what its tweets link. Why not add the two up: a search fills its
page with other topics' videos once the trend's own run out, and a big trend's tenth result would then outrank a
small trend's most shared video. Tweets that link nothing still count in the denominator, so a trend whose talk
links no video leans on the search however big it is.

A video is listed under the trend that gave it most of its score. Videos known to be gone are left out (the
reduce asks the site about the ones the search did not return). Scores are rounded so that a re-run of the hour
writes exactly the same rankings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

CONTEXT_WORDS = 3
SEARCH_PRIOR_TWEETS = 20  # PRIOR above: how many tweets' worth of evidence the search's answer is
SCORE_DIGITS = 9


@dataclass(frozen=True)
class PlaceTrend:
    """One row of a map's output."""

    trend: str
    rank: int
    tweets: int
    terms: tuple[str, ...]
    support: tuple[int, ...]
    shares: tuple[tuple[str, int], ...]  # (video, tweets linking it), most shared first


@dataclass
class MergedTrend:
    trend: str  # as the first place that listed it spelled it
    tweets: int = 0
    places: int = 0
    support: dict[str, int] = field(default_factory=dict)

    @property
    def context(self) -> tuple[str, ...]:
        best = sorted(self.support.items(), key=lambda item: (-item[1], item[0]))
        return tuple(word for word, _ in best[:CONTEXT_WORDS])


@dataclass(frozen=True)
class HotVideo:
    video_id: str
    score: float
    trend: str
    context: tuple[str, ...]


def trend_key(name: str) -> str:
    return name.lower()


def merge(places: Mapping[str, Sequence[PlaceTrend]]) -> dict[str, MergedTrend]:
    """Every trend of the hour, keyed by `trend_key`, with its pooled tweets and context support."""
    merged: dict[str, MergedTrend] = {}
    for place in sorted(places):
        for row in places[place]:
            trend = merged.setdefault(trend_key(row.trend), MergedTrend(row.trend))
            trend.tweets += row.tweets
            trend.places += 1
            for word, support in zip(row.terms, row.support, strict=True):
                trend.support[word] = trend.support.get(word, 0) + support
    return merged


def pooled(places: Mapping[str, Sequence[PlaceTrend]], merged: Mapping[str, MergedTrend]) -> list[PlaceTrend]:
    """The global view as one more place: every trend with all places' tweets and shares added up."""
    shares: dict[str, dict[str, int]] = defaultdict(dict)
    for rows in places.values():
        for row in rows:
            for video, count in row.shares:
                per_trend = shares[trend_key(row.trend)]
                per_trend[video] = per_trend.get(video, 0) + count
    ordered = sorted(merged.items(), key=lambda item: (-item[1].tweets, item[0]))
    return [
        PlaceTrend(
            trend.trend,
            rank,
            trend.tweets,
            trend.context,
            tuple(trend.support[word] for word in trend.context),
            tuple(sorted(shares[key].items(), key=lambda item: (-item[1], item[0]))),
        )
        for rank, (key, trend) in enumerate(ordered)
    ]


def score_place(
    rows: Sequence[PlaceTrend],
    searched: Mapping[str, Sequence[str]],
    merged: Mapping[str, MergedTrend],
    top: int,
    gone: Container[str] = frozenset(),
    prior_tweets: float = SEARCH_PRIOR_TWEETS,
) -> list[HotVideo]:
    """The place's `top` videos, best first (ties by id), none of them `gone`. `searched` maps a trend key to its
    search results; `prior_tweets` is PRIOR (0: the tweets alone; a huge one: the search alone)."""
    total = sum(row.tweets + 1 for row in rows)
    scores: dict[str, float] = defaultdict(float)
    best: dict[str, tuple[float, PlaceTrend]] = {}
    for row in rows:
        weight = (row.tweets + 1) / total
        evidence: dict[str, float] = defaultdict(float)  # in tweets
        for position, video in enumerate(searched.get(trend_key(row.trend), ())):
            evidence[video] += prior_tweets / (1 + position)
        for video, count in row.shares:
            evidence[video] += count
        for video, tweets in evidence.items():
            if video in gone:
                continue
            part = tweets / (row.tweets + prior_tweets) if tweets else 0.0
            scores[video] += weight * part
            if video not in best or weight * part > best[video][0]:
                best[video] = (weight * part, row)
    ranked = sorted(((round(score, SCORE_DIGITS), video) for video, score in scores.items()), key=_best_first)
    return [
        HotVideo(video, score, best[video][1].trend, _context(best[video][1], merged)) for score, video in ranked[:top]
    ]


def search_query(trend: MergedTrend) -> str:
    """What the video search is asked: the trend's words (a hashtag without its '#') and its global context."""
    return " ".join([trend.trend.lstrip("#"), *trend.context])


def distinct_videos(rankings: Iterable[Sequence[HotVideo]]) -> list[str]:
    return sorted({video.video_id for ranking in rankings for video in ranking})


def _context(row: PlaceTrend, merged: Mapping[str, MergedTrend]) -> tuple[str, ...]:
    """The place's own context when it found one, else the global one."""
    return row.terms or merged[trend_key(row.trend)].context


def _best_first(item: tuple[float, str]) -> tuple[float, str]:
    return (-item[0], item[1])
