"""The VideoIndex contract (workloads/index/base.py), run against every backend; then `open_index` URLs."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import workloads.index
from tests.workloads.contracts.conftest import MYSQL, IndexOpener, mysql_admin
from workloads.index import (
    CheckResult,
    MySQLVideoIndex,
    SQLiteVideoIndex,
    StoredVideo,
    VideoIndex,
    VideoRecord,
    open_index,
)
from workloads.index.migrations import load_migrations, split_statements

T0 = 1_700_000_000_000


def rec(video_id: str, seen_ms: int = T0, **metadata: Any) -> VideoRecord:
    return VideoRecord(video_id, f"https://youtu.be/{video_id}", seen_ms=seen_ms, **metadata)


def alive(video_id: str, at_ms: int) -> CheckResult:
    return CheckResult(video_id, at_ms, "alive")


def dead(video_id: str, at_ms: int, reason: str = "404") -> CheckResult:
    return CheckResult(video_id, at_ms, "dead", reason)


def stored(video_id: str, **changes: Any) -> StoredVideo:
    fields: dict[str, Any] = {
        "url": f"https://youtu.be/{video_id}",
        "title": None,
        "channel": None,
        "duration_s": None,
        "first_seen_ms": T0,
        "last_checked_ms": None,
        "stale": False,
        "stale_reason": None,
    }
    return StoredVideo(video_id, **{**fields, **changes})


def due_ids(index: VideoIndex, before_ms: int, limit: int = 100) -> list[str]:
    return [video.video_id for video in index.due_for_check(before_ms, limit)]


def migration_count(index: VideoIndex) -> int:
    return len(load_migrations("sqlite" if isinstance(index, SQLiteVideoIndex) else "mysql"))


def run_all(tasks: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def guarded(task: Callable[[], None]) -> None:
        try:
            task()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=(task,)) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []


# -- upsert_videos / get ---------------------------------------------------------------------------------


def test_upsert_counts_new_videos_and_is_idempotent(video_index: VideoIndex) -> None:
    # given two videos stored
    assert video_index.upsert_videos([rec("a"), rec("b")]) == 2
    # when they are upserted again beside a new one, and a batch repeats an id
    again = video_index.upsert_videos([rec("a"), rec("b"), rec("c")])
    repeated = video_index.upsert_videos([rec("d"), rec("d")])
    # then only the new ones count, and each is stored once
    assert (again, repeated) == (1, 1)
    assert video_index.count() == 4
    assert video_index.upsert_videos([]) == 0


def test_get_returns_stored_videos_and_omits_unknown_ids(video_index: VideoIndex) -> None:
    # given one video with metadata
    video_index.upsert_videos([rec("a", title="T", channel="C", duration_s=61)])
    # when it and an unknown id are asked for
    found = video_index.get(["a", "nope"])
    # then only the known one comes back, whole
    assert found == {"a": stored("a", title="T", channel="C", duration_s=61)}
    assert video_index.get([]) == {}


def test_upsert_keeps_first_seen_check_and_stale_state(video_index: VideoIndex) -> None:
    # given a video seen at T0, found dead at T0 + 10
    video_index.upsert_videos([rec("a")])
    video_index.record_checks([dead("a", T0 + 10, "410")])
    # when it is seen again later, under another URL, with metadata
    assert video_index.upsert_videos([VideoRecord("a", "https://other/a", title="T", seen_ms=T0 + 99)]) == 0
    # then the URL, first_seen_ms, last_checked_ms and the stale state are kept; the metadata is filled
    expected = stored("a", title="T", last_checked_ms=T0 + 10, stale=True, stale_reason="410")
    assert video_index.get(["a"]) == {"a": expected}


def test_record_without_metadata_leaves_metadata(video_index: VideoIndex) -> None:
    # given a video with metadata
    video_index.upsert_videos([rec("a", title="T", channel="C", duration_s=61)])
    # when a record without metadata is upserted
    video_index.upsert_videos([rec("a")])
    # then nothing of the metadata is wiped
    assert video_index.get(["a"])["a"] == stored("a", title="T", channel="C", duration_s=61)


def test_record_with_metadata_fills_or_replaces_it_field_by_field(video_index: VideoIndex) -> None:
    # given one video without metadata and two with
    full: dict[str, Any] = {"title": "T", "channel": "C", "duration_s": 61}
    video_index.upsert_videos([rec("a"), rec("b", **full), rec("c", **full)])
    # when all three get new metadata: all of it for a, only a title for b, only a duration for c
    video_index.upsert_videos(
        [rec("a", title="Ta", channel="Ca", duration_s=5), rec("b", title="T2"), rec("c", duration_s=9)]
    )
    # then a's is filled, b's fields given replace the stored ones while those left None keep their value,
    # and c's record, without a title, has no metadata: it leaves all of it
    found = video_index.get(["a", "b", "c"])
    assert found["a"] == stored("a", title="Ta", channel="Ca", duration_s=5)
    assert found["b"] == stored("b", title="T2", channel="C", duration_s=61)
    assert found["c"] == stored("c", title="T", channel="C", duration_s=61)


def test_ids_are_case_sensitive_and_text_keeps_every_character(video_index: VideoIndex) -> None:
    # given two ids differing only in case, a 64-character id, and a title outside the BMP
    long_id = "x" * 64
    new = video_index.upsert_videos([rec("dQw4w9WgXcQ"), rec("DQW4W9WGXCQ"), rec(long_id, title="🎵 Ünïcode")])
    # then three videos are stored, and the text comes back as it went in
    assert new == 3
    assert video_index.get([long_id])[long_id].title == "🎵 Ünïcode"
    assert set(video_index.get(["dQw4w9WgXcQ", "DQW4W9WGXCQ"])) == {"dQw4w9WgXcQ", "DQW4W9WGXCQ"}


# -- due_for_check -----------------------------------------------------------------------------------------


def test_due_for_check_lists_never_checked_first_then_oldest_then_by_id(video_index: VideoIndex) -> None:
    # given never-checked videos, checked ones (two at the same time), one checked late, and a stale one
    video_index.upsert_videos([rec(i) for i in ("n2", "n1", "c3", "c1", "c2", "late", "gone", "edge")])
    video_index.record_checks([alive("c1", 100), alive("c3", 100), alive("c2", 50), alive("late", 500)])
    video_index.record_checks([alive("edge", 300), dead("gone", 10)])
    # when the videos due before 300 are listed
    due = due_ids(video_index, 300)
    # then: never checked (by id), then by last check, ties by id; not the stale one, nor one checked at 300
    assert due == ["n1", "n2", "c2", "c1", "c3"]


def test_due_for_check_honours_the_limit(video_index: VideoIndex) -> None:
    # given three never-checked videos and one checked
    video_index.upsert_videos([rec("a"), rec("b"), rec("c"), rec("d")])
    video_index.record_checks([alive("a", 10)])
    # then the limit cuts the list in its order, and a limit of 0 lists nothing
    assert due_ids(video_index, 100, limit=2) == ["b", "c"]
    assert due_ids(video_index, 100, limit=0) == []
    assert [v.last_checked_ms for v in video_index.due_for_check(100, 4)] == [None, None, None, 10]


# -- record_checks -----------------------------------------------------------------------------------------


def test_record_checks_stores_time_and_marks_dead_videos_stale(video_index: VideoIndex) -> None:
    # given three live videos
    video_index.upsert_videos([rec("a"), rec("b"), rec("c")])
    # when one is checked alive and two dead
    became_stale = video_index.record_checks([alive("a", 100), dead("b", 110, "404"), dead("c", 120, "410")])
    # then the two dead ones are stale with their reasons, and the live one has its check time
    assert became_stale == 2
    found = video_index.get(["a", "b", "c"])
    assert found["a"] == stored("a", last_checked_ms=100)
    assert found["b"] == stored("b", last_checked_ms=110, stale=True, stale_reason="404")
    assert found["c"] == stored("c", last_checked_ms=120, stale=True, stale_reason="410")
    assert (video_index.count(stale=True), video_index.count(stale=False), video_index.count()) == (2, 1, 3)


def test_an_older_check_changes_nothing(video_index: VideoIndex) -> None:
    # given a video checked alive at 500
    video_index.upsert_videos([rec("a")])
    video_index.record_checks([alive("a", 500)])
    # when a check from 400 arrives late saying it is dead
    became_stale = video_index.record_checks([dead("a", 400)])
    # then nothing changes
    assert became_stale == 0
    assert video_index.get(["a"])["a"] == stored("a", last_checked_ms=500)


def test_a_stale_video_stays_stale(video_index: VideoIndex) -> None:
    # given a video found dead (404) at 100
    video_index.upsert_videos([rec("a")])
    video_index.record_checks([dead("a", 100, "404")])
    # when it is later checked alive, then dead again for another reason
    assert video_index.record_checks([alive("a", 200)]) == 0
    assert video_index.record_checks([dead("a", 300, "410")]) == 0
    # then it is still stale with its first reason, and the latest check time is stored
    assert video_index.get(["a"])["a"] == stored("a", last_checked_ms=300, stale=True, stale_reason="404")
    assert due_ids(video_index, 10_000) == []


def test_a_batch_of_checks_applies_in_time_order_and_ignores_unknown_ids(video_index: VideoIndex) -> None:
    # given one video
    video_index.upsert_videos([rec("a")])
    # when a batch lists a later alive check before an earlier dead one, plus an unknown id
    checks = [alive("a", 300), dead("a", 250, "410"), dead("a", 200, "404"), dead("ghost", 250)]
    became_stale = video_index.record_checks(checks)
    # then the earliest dead check made it stale with its reason, the latest time is kept, and no video was created
    assert became_stale == 1
    assert video_index.get(["a"])["a"] == stored("a", last_checked_ms=300, stale=True, stale_reason="404")
    assert video_index.count() == 1
    assert video_index.record_checks([]) == 0


# -- related -------------------------------------------------------------------------------------------------


def test_add_related_is_idempotent_and_related_keeps_insertion_order(video_index: VideoIndex) -> None:
    # given videos linked from a, in a non-alphabetical order
    video_index.upsert_videos([rec(i) for i in ("a", "z", "y", "x", "b")])
    assert video_index.add_related("a", ["z", "y"]) == 2
    # when links are added again, with one new one and one repeated inside the batch
    again = video_index.add_related("a", ["y", "x", "x", "z"])
    # then only the new link counts, and the links come back in insertion order
    assert again == 1
    assert video_index.related("a") == ["z", "y", "x"]
    assert video_index.add_related("b", ["a"]) == 1
    assert (video_index.related("b"), video_index.related("z"), video_index.add_related("b", [])) == (["a"], [], 0)


# -- cursors -------------------------------------------------------------------------------------------------


def test_cursor_is_none_until_saved_and_a_save_replaces_it(video_index: VideoIndex) -> None:
    # given no cursor
    assert video_index.cursor("u1", "x") is None
    # when cursors are saved for two networks of one user, and one is saved again
    video_index.save_cursor("u1", "x", "c1")
    video_index.save_cursor("u1", "facebook", "f1")
    video_index.save_cursor("u1", "x", "c2")
    # then each (user, network) has its latest cursor, and other users have none
    assert (video_index.cursor("u1", "x"), video_index.cursor("u1", "facebook")) == ("c2", "f1")
    assert video_index.cursor("u2", "x") is None


# -- migrations ---------------------------------------------------------------------------------------------


def test_migrate_applies_every_file_once(index_opener: IndexOpener) -> None:
    # given a fresh database
    index = index_opener()
    # when it is migrated twice
    first, second = index.migrate(), index.migrate()
    # then every file ran the first time, none the second, and the schema works
    assert (first, second) == (migration_count(index), 0)
    assert first >= 1
    assert index.upsert_videos([rec("a")]) == 1


def test_concurrent_migrations_apply_each_file_once(index_opener: IndexOpener) -> None:
    # given two index objects (two connections) on one fresh database
    indexes = [index_opener(), index_opener()]
    start = threading.Barrier(len(indexes))
    results: list[int] = []

    def migrate(index: VideoIndex) -> None:
        start.wait()
        results.append(index.migrate())

    # when both migrate at the same moment
    run_all([functools.partial(migrate, index) for index in indexes])
    # then one applied every file, the other none, and neither failed
    assert sorted(results) == [0, migration_count(indexes[0])]
    assert indexes[1].upsert_videos([rec("a")]) == 1


def test_split_statements_ends_a_statement_at_a_semicolon_at_line_end() -> None:
    sql = "-- a comment;\nCREATE TABLE a (x TEXT DEFAULT 'a;b');\n\nCREATE INDEX i\n  ON a (x) ;  \n-- end\n"
    assert split_statements(sql) == ["CREATE TABLE a (x TEXT DEFAULT 'a;b')", "CREATE INDEX i\n  ON a (x)"]


# -- concurrency and size -------------------------------------------------------------------------------------


def test_concurrent_upserts_count_each_new_video_once(index_opener: IndexOpener, video_index: VideoIndex) -> None:
    # given two more index objects on the same database
    others = [index_opener(), index_opener()]
    batch = [rec(f"v{i:04d}") for i in range(500)]
    start = threading.Barrier(len(others))
    counts: list[int] = []

    def upsert(index: VideoIndex) -> None:
        start.wait()
        counts.append(index.upsert_videos(batch))

    # when both upsert the same new videos at once
    run_all([functools.partial(upsert, index) for index in others])
    # then each video was new for exactly one of them
    assert sum(counts) == 500
    assert video_index.count() == 500


def test_batches_of_5000(video_index: VideoIndex) -> None:
    # given 5,000 new videos
    ids = [f"v{i:05d}" for i in range(5000)]
    assert video_index.upsert_videos([rec(i, title=f"t{i}") for i in ids]) == 5000
    # when all are checked, every other one dead, and all are linked from one source
    became_stale = video_index.record_checks([(dead if n % 2 else alive)(i, T0 + n) for n, i in enumerate(ids)])
    new_links = video_index.add_related(ids[0], ids[1:])
    # then the counts add up and nothing was lost or reordered
    assert (became_stale, new_links) == (2500, 4999)
    assert video_index.upsert_videos([rec(i) for i in ids]) == 0
    assert (video_index.count(stale=True), video_index.count(stale=False)) == (2500, 2500)
    assert len(video_index.get(ids)) == 5000
    assert video_index.related(ids[0]) == ids[1:]
    assert due_ids(video_index, T0 + 5000, limit=5000) == ids[0::2]


# -- open_index ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("relative", [False, True])
def test_open_index_opens_a_migrated_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: bool
) -> None:
    # given an absolute path (sqlite:////...) or one relative to the working directory (sqlite:///...)
    monkeypatch.chdir(tmp_path)
    index = open_index("sqlite:///sub/index.db" if relative else f"sqlite:///{tmp_path}/sub/index.db")
    try:
        # then the file is made, in a new directory, and already migrated
        assert isinstance(index, SQLiteVideoIndex)
        assert index.migrate() == 0
        assert (tmp_path / "sub" / "index.db").exists()
    finally:
        index.close()


def test_open_index_opens_a_migrated_mysql_database() -> None:
    admin = mysql_admin()
    database = f"ebbflow_t_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        cur.execute(f"CREATE DATABASE `{database}`")
    try:
        index = open_index(f"mysql://{MYSQL['user']}@{MYSQL['host']}:{MYSQL['port']}/{database}")
        assert isinstance(index, MySQLVideoIndex)
        assert index.migrate() == 0
        index.close()
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        admin.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u@h/db",
        "index.db",
        "sqlite://index.db",
        "sqlite:///",
        "mysql://u:s3cret@h:notaport/db",
        "mysql://u:s3cret@h:3306/",
        "mysql://u:s3cret@h:3306/a/b",
        "mysql://:s3cret@h/db",
        "mysql://u:s3cret@h/db?ssl=1",
    ],
)
def test_open_index_rejects_a_bad_url_naming_the_setting(url: str) -> None:
    with pytest.raises(ValueError, match=r"packs\.index") as caught:
        open_index(url)
    assert "s3cret" not in str(caught.value)
    assert "sqlite:///" in str(caught.value)  # an example of a good one


def test_the_package_exports_its_public_names() -> None:
    exported = {name for name in dir(workloads.index) if not name.startswith("_")}
    assert set(workloads.index.__all__) <= exported
    assert {"VideoIndex", "VideoRecord", "StoredVideo", "CheckResult", "open_index"} <= set(workloads.index.__all__)
