"""The Rankings contract (workloads/rankings/base.py), run against every backend; then `open_rankings` URLs."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
import redis

import workloads.rankings
from tests.workloads.contracts.conftest import REDIS_DB, REDIS_HOST, REDIS_PORT, RankingsFactory, redis_admin
from workloads.rankings import DEFAULT_MAX_LEN, Rankings, RedisRankings, SQLiteRankings, open_rankings

# -- add / top -----------------------------------------------------------------------------------------------


def test_add_counts_new_members_and_updates_scores(rankings: Rankings) -> None:
    # given a ranking of two members
    assert rankings.add("hot", {"a": 1.0, "b": 2.0}) == 2
    # when one score changes and a member is added
    new = rankings.add("hot", {"a": 3.0, "c": 0.5})
    # then only the added member counts, and the order follows the new scores
    assert new == 1
    assert rankings.top("hot", 10) == [("a", 3.0), ("b", 2.0), ("c", 0.5)]


def test_add_is_idempotent(rankings: Rankings) -> None:
    # given a ranking
    scores = {"a": 1.0, "b": -2.5, "c": 0.1}
    rankings.add("hot", scores)
    # when the same scores are added again
    again = rankings.add("hot", scores)
    # then nothing is new and nothing changed; scores come back exactly
    assert again == 0
    assert rankings.top("hot", 10) == [("a", 1.0), ("c", 0.1), ("b", -2.5)]
    assert rankings.add("hot", {}) == 0


def test_top_is_best_first_with_ties_by_member(rankings: Rankings) -> None:
    # given members with tied scores, added in no particular order
    rankings.add("hot", {"d": 5.0, "b": 5.0, "z": 1.0, "c": 5.0, "a": 7.0, "y": 1.0})
    # then top gives the highest first, ties by member ascending, and cuts at n
    assert rankings.top("hot", 4) == [("a", 7.0), ("b", 5.0), ("c", 5.0), ("d", 5.0)]
    assert [member for member, _ in rankings.top("hot", 100)] == ["a", "b", "c", "d", "y", "z"]
    assert (rankings.top("hot", 0), rankings.top("unknown", 5)) == ([], [])


def test_rankings_are_independent(rankings: Rankings) -> None:
    # given one member in two rankings with different scores
    rankings.add("r1", {"m": 1.0})
    rankings.add("r2", {"m": 9.0, "n": 2.0})
    # then each ranking has its own score for it
    assert rankings.top("r1", 5) == [("m", 1.0)]
    assert rankings.top("r2", 5) == [("m", 9.0), ("n", 2.0)]


# -- max_len ---------------------------------------------------------------------------------------------------


def test_add_trims_to_max_len_dropping_the_lowest(rankings_factory: RankingsFactory) -> None:
    # given rankings of at most 3
    small = rankings_factory(max_len=3)
    # when 5 members are added, two tied at the cut
    new = small.add("hot", {"a": 5.0, "b": 4.0, "c": 2.0, "d": 2.0, "e": 1.0})
    # then the 3 best stay (of the tie, the one top() lists first), and all 5 counted as new
    assert new == 5
    assert small.top("hot", 10) == [("a", 5.0), ("b", 4.0), ("c", 2.0)]


def test_a_member_trimmed_at_once_leaves_no_trace(rankings_factory: RankingsFactory) -> None:
    # given a full ranking of 2
    small = rankings_factory(max_len=2)
    small.add("hot", {"a": 5.0, "b": 4.0})
    # when a member too low to stay is added, and another one pushes b out
    assert small.add("hot", {"low": 1.0}) == 1
    small.add("hot", {"new": 4.5})
    # then neither dropped member is held anywhere any more
    assert small.top("hot", 10) == [("a", 5.0), ("new", 4.5)]
    assert small.remove_everywhere(["low", "b"]) == 0


def test_default_max_len_keeps_the_best(rankings: Rankings) -> None:
    # when more members than DEFAULT_MAX_LEN are added at once
    scores = {f"m{i:05d}": float(i) for i in range(DEFAULT_MAX_LEN + 500)}
    assert rankings.add("hot", scores) == DEFAULT_MAX_LEN + 500
    # then only the best DEFAULT_MAX_LEN stay
    kept = rankings.top("hot", DEFAULT_MAX_LEN + 500)
    assert len(kept) == DEFAULT_MAX_LEN
    assert kept[0] == (f"m{DEFAULT_MAX_LEN + 499:05d}", float(DEFAULT_MAX_LEN + 499))
    assert kept[-1] == ("m00500", 500.0)


# -- remove_everywhere / delete / names ---------------------------------------------------------------------


def test_remove_everywhere_removes_from_every_ranking_once(rankings: Rankings) -> None:
    # given a member in three rankings, one of which holds nothing else
    rankings.add("r1", {"gone": 1.0, "keep": 2.0})
    rankings.add("r2", {"gone": 3.0})
    rankings.add("r3", {"keep": 1.0, "gone": 0.0})
    # when it is removed everywhere, twice
    first = rankings.remove_everywhere(["gone", "never-added"])
    second = rankings.remove_everywhere(["gone"])
    # then it went from all three the first time, nothing more the second, and the emptied ranking is gone
    assert (first, second) == (3, 0)
    assert rankings.top("r1", 5) == [("keep", 2.0)]
    assert rankings.top("r3", 5) == [("keep", 1.0)]
    assert rankings.names() == ["r1", "r3"]
    assert rankings.remove_everywhere([]) == 0


def test_delete_drops_one_ranking(rankings: Rankings) -> None:
    # given a member in two rankings
    rankings.add("r1", {"m": 1.0, "n": 2.0})
    rankings.add("r2", {"m": 1.0})
    # when r1 is deleted (twice: the second does nothing)
    rankings.delete("r1")
    rankings.delete("r1")
    # then r1 is empty and unnamed, r2 untouched, and removing m finds it only in r2
    assert (rankings.top("r1", 5), rankings.names()) == ([], ["r2"])
    assert rankings.remove_everywhere(["m", "n"]) == 1


def test_names_lists_rankings_by_prefix(rankings: Rankings) -> None:
    # given rankings with look-alike names (LIKE wildcards, case)
    for name in ("user:2", "user:1", "User:3", "woeid:1:h9", "user_%x", "userx"):
        rankings.add(name, {"m": 1.0})
    # then names() lists them sorted, filtered by a literal, case-sensitive prefix
    assert rankings.names() == ["User:3", "user:1", "user:2", "user_%x", "userx", "woeid:1:h9"]
    assert rankings.names("user:") == ["user:1", "user:2"]
    assert rankings.names("user_%") == ["user_%x"]
    assert rankings.names("nope") == []


# -- replace ----------------------------------------------------------------------------------------------------


def test_replace_makes_the_ranking_hold_exactly_the_new_members(rankings: Rankings) -> None:
    # given a ranking, and one of its members also in another ranking
    rankings.add("hot", {"a": 1.0, "b": 2.0, "c": 3.0})
    rankings.add("other", {"a": 5.0})
    # when it is replaced by a list that keeps b (with a new score), drops a and c, and adds d
    rankings.replace("hot", {"b": 0.5, "d": 4.0})
    # then only the new members are in it, with their new scores; the other ranking is untouched
    assert rankings.top("hot", 10) == [("d", 4.0), ("b", 0.5)]
    assert rankings.top("other", 10) == [("a", 5.0)]
    assert rankings.names() == ["hot", "other"]


def test_replace_creates_a_ranking_and_trims_to_max_len(rankings_factory: RankingsFactory) -> None:
    # given rankings of at most 3
    small = rankings_factory(max_len=3)
    # when a ranking that does not exist is replaced by 5 members, two tied at the cut
    small.replace("hot", {"a": 5.0, "b": 4.0, "c": 2.0, "d": 2.0, "e": 1.0})
    # then the 3 best stay, as add would keep them, and the dropped ones are held nowhere
    assert small.top("hot", 10) == [("a", 5.0), ("b", 4.0), ("c", 2.0)]
    assert small.remove_everywhere(["d", "e"]) == 0


def test_replace_keeps_remove_everywhere_exact(rankings: Rankings) -> None:
    # given a member in two rankings, and a member that leaves its only ranking in a replace
    rankings.add("r1", {"stay": 1.0, "left": 2.0, "moved": 3.0})
    rankings.add("r2", {"stay": 1.0})
    rankings.replace("r1", {"stay": 9.0, "new": 1.0})
    # when every member is removed everywhere
    removed = {member: rankings.remove_everywhere([member]) for member in ("left", "moved", "stay", "new")}
    # then the members that left are listed nowhere, and the others leave every ranking they are in
    assert removed == {"left": 0, "moved": 0, "stay": 2, "new": 1}
    assert rankings.names() == []


def test_replace_is_idempotent(rankings: Rankings) -> None:
    # given a replaced ranking
    scores = {"a": 1.0, "b": -2.5, "c": 0.1}
    rankings.replace("hot", scores)
    first = rankings.top("hot", 10)
    # when the same replace runs again
    rankings.replace("hot", scores)
    # then nothing changed, and each member is held once
    assert rankings.top("hot", 10) == first == [("a", 1.0), ("c", 0.1), ("b", -2.5)]
    assert rankings.remove_everywhere(["a", "b", "c"]) == 3


def test_replace_with_nothing_deletes_the_ranking(rankings: Rankings) -> None:
    # given a ranking whose member is also held elsewhere
    rankings.add("hot", {"a": 1.0, "b": 2.0})
    rankings.add("other", {"a": 1.0})
    # when it is replaced by nothing (twice: the second does nothing)
    rankings.replace("hot", {})
    rankings.replace("hot", {})
    # then it is gone, and removing its old members finds them only elsewhere
    assert (rankings.top("hot", 5), rankings.names()) == ([], ["other"])
    assert rankings.remove_everywhere(["a", "b"]) == 1


def test_a_reader_sees_the_old_list_or_the_new_one_never_a_mix(rankings_factory: RankingsFactory) -> None:
    # given two lists that share some members, with other scores
    writer, reader = rankings_factory(), rankings_factory()
    lists = [{f"m{i:03d}": float(i) for i in range(0, 300)}, {f"m{i:03d}": float(-i) for i in range(150, 450)}]
    expected = [sorted(((m, s) for m, s in scores.items()), key=lambda e: (-e[1], e[0])) for scores in lists]
    writer.replace("hot", lists[0])
    stop = threading.Event()
    seen: list[list[tuple[str, float]]] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(reader.top("hot", 1000))

    # when one thread keeps replacing the ranking while another keeps reading it
    thread = threading.Thread(target=read)
    thread.start()
    try:
        for round_number in range(60):
            writer.replace("hot", lists[round_number % 2])
    finally:
        stop.set()
        thread.join()
    # then every read was one whole list: never a mix, never empty
    assert seen
    assert all(read in expected for read in seen)


# -- size -------------------------------------------------------------------------------------------------------


def test_batches_of_5000(rankings_factory: RankingsFactory) -> None:
    # given rankings long enough for 5,000 members
    big = rankings_factory(max_len=5000)
    members = [f"v{i:05d}" for i in range(5000)]
    # when 5,000 members are added to two rankings, then removed everywhere at once
    assert big.add("r1", {m: float(i % 7) for i, m in enumerate(members)}) == 5000
    assert big.add("r2", {m: 1.0 for m in members[:2500]}) == 2500
    top = big.top("r1", 5000)
    removed = big.remove_everywhere(members)
    # then the order held across the whole batch, and every entry went
    assert top == sorted(top, key=lambda entry: (-entry[1], entry[0]))
    assert len(top) == 5000
    assert removed == 7500
    assert big.names() == []


# -- open_rankings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("relative", [False, True])
def test_open_rankings_opens_a_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: bool) -> None:
    monkeypatch.chdir(tmp_path)
    rankings = open_rankings("sqlite:///sub/r.db" if relative else f"sqlite:///{tmp_path}/sub/r.db")
    try:
        assert isinstance(rankings, SQLiteRankings)
        assert rankings.add("hot", {"m": 1.0}) == 1
        assert (tmp_path / "sub" / "r.db").exists()
    finally:
        rankings.close()


def test_open_rankings_opens_redis_with_the_prefix_given() -> None:
    # given a prefix of this test's own
    admin = redis_admin()
    prefix = f"t-{uuid.uuid4().hex}:"
    rankings = open_rankings(f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}?prefix={prefix}")
    try:
        # when a ranking is added
        assert isinstance(rankings, RedisRankings)
        rankings.add("hot", {"m": 1.0})
        # then its keys carry that prefix
        assert admin.exists(f"{prefix}rank:hot", f"{prefix}holders:m", f"{prefix}names") == 3
    finally:
        rankings.delete("hot")
        rankings.close()
        leaked = list(admin.scan_iter(match=f"{prefix}*"))
        if leaked:
            admin.delete(*leaked)
        admin.close()
    assert leaked == []


def test_open_rankings_defaults_the_redis_prefix() -> None:
    rankings = open_rankings(f"redis://{REDIS_HOST}")
    try:
        assert isinstance(rankings, RedisRankings)
        assert rankings.keys.names == "ebbflow:names"
    finally:
        rankings.close()


# Also what the crawl state (kept beside the rankings, from the same URL) must refuse.
BAD_RANKINGS_URLS = [
    "memcached://h",
    "rankings.db",
    "sqlite:/r.db",
    "sqlite:///",
    "redis://:s3cret@h:port/0",
    "redis://:s3cret@h/zero",
    "redis://:s3cret@h/0?prefix=a&prefix=b",
    "redis://:s3cret@h/0?namespace=x",
    "redis://:s3cret@/0",
]


@pytest.mark.parametrize("url", BAD_RANKINGS_URLS)
def test_open_rankings_rejects_a_bad_url_naming_the_setting(url: str) -> None:
    with pytest.raises(ValueError, match=r"packs\.rankings") as caught:
        open_rankings(url)
    assert "s3cret" not in str(caught.value)
    assert "redis://" in str(caught.value)  # an example of a good one


def test_redis_rankings_refuse_a_client_that_does_not_decode() -> None:
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisRankings(client, "t-unused:")
    finally:
        client.close()


def test_the_package_exports_its_public_names() -> None:
    exported = {name for name in dir(workloads.rankings) if not name.startswith("_")}
    assert set(workloads.rankings.__all__) <= exported
    assert {"Rankings", "RedisRankings", "SQLiteRankings", "open_rankings"} <= set(workloads.rankings.__all__)
