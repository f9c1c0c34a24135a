"""The hot-topics pack end to end through the CLI (plan, the maps, the reduce the last map queues, `hot-topics show`)
against the emulator, with the world as the oracle; re-running an hour; the hourly plan job; the archive on S3."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pyarrow.dataset as ds
import pytest

from tests.autoscaler.moto_server import REGION, MotoServer
from workloads.archive import Archive
from workloads.emulator import EmulatorServer, Limit, RateLimits
from workloads.hot_topics import layout
from workloads.hot_topics.hours import HOUR_MS, hour_start, label
from workloads.rankings import open_rankings
from workloads.world import World, WorldConfig

WORLD = World(WorldConfig())
PLACES = [23424977, 23424975, 1]  # the United States, the United Kingdom, Worldwide


@pytest.fixture
def this_hour() -> int:
    """The current hour, with at least 90 s of it left: the maps must fetch within the hour they rank (X only
    serves the current trends), so a test started at 59:30 waits for the next hour rather than flake."""
    now = time.time() * 1000
    left_ms = hour_start(round(now)) + HOUR_MS - now
    if left_ms < 90_000:
        time.sleep(left_ms / 1000 + 0.5)
    return hour_start(round(time.time() * 1000))


def rankings_of(folder: Path, hour_ms: int) -> dict[str, list[tuple[str, float]]]:
    rankings = open_rankings(f"sqlite:///{folder / 'rankings.db'}")
    try:
        return {name: rankings.top(name, 1000) for name in rankings.names("hot:") if name.endswith(label(hour_ms))}
    finally:
        rankings.close()


def topic_videos(woeid: int, hour_ms: int) -> set[str]:
    """The live videos of this place's trends' topics (the truth the ranking should find). Not the videos of the
    place's own sample of tweets: a country's search also reads its cities' tweets, and Worldwide's everyone's."""
    return {
        video.video_id
        for trend in WORLD.trends(woeid, hour_ms)
        for video in WORLD.trend_videos(trend)
        if video.status == "alive"
    }


def is_alive(video_id: str) -> bool:
    video = WORLD.video(video_id)
    return video is not None and video.status == "alive"


def run_hour(cli, *params: str) -> str:
    args = [arg for param in params for arg in ("--param", param)]
    out = cli.ok("pack", "submit", "hot-topics", "--param", f"woeids={','.join(map(str, PLACES))}", *args).stdout
    cli.ok("work", "--idle-exit")
    return out


def test_an_hour_is_mapped_reduced_and_shown(cli, pack_env: Path, this_hour: int, configured_store):
    # when an hour is planned for three places and the worker drains the queue
    out = run_hour(cli)
    assert "planned 3 jobs" in out
    # then every job finished (the last map queued the reduce), and nothing was dead-lettered
    stats = configured_store().stats()
    assert stats.settled and stats.dead == 0
    hot = rankings_of(pack_env, this_hour)
    assert set(hot) == {f"hot:{place}:{label(this_hour)}" for place in [*PLACES, "global"]}
    # and each place's top videos are its trends' videos, and every ranked video is up (the dead ones were asked
    # about and left out)
    for woeid in PLACES:
        ranked = [video for video, _ in hot[f"hot:{woeid}:{label(this_hour)}"]]
        assert len(ranked) == 50 and all(map(is_alive, ranked))
        truth = topic_videos(woeid, this_hour)
        assert sum(video in truth for video in ranked[:10]) >= 9, (woeid, ranked[:10])
    # and the archive holds each place's raw tweets, partitioned by date, hour and woeid
    archive = Archive.from_uri(str(pack_env / ".ebbflow" / "archive"))
    tweets = ds.dataset(
        archive.path(f"{layout.ROOT}/tweets"), filesystem=archive.filesystem, partitioning="hive"
    ).to_table()
    assert set(tweets["woeid"].to_pylist()) == set(PLACES)
    # (the United Kingdom's search covers its country: the UK's own sample, plus London's tweets on the same trends)
    uk_ids = set(tweets.filter(ds.field("woeid") == 23424975)["tweet_id"].to_pylist())
    assert {tweet.tweet_id for tweet in WORLD.tweets(23424975, this_hour)} <= uk_ids
    # and `hot-topics show` lists a place's videos with their trend and context
    shown = cli.ok("hot-topics", "show", "23424977", "--top", "5").stdout
    trends = {trend.name for trend in WORLD.trends(23424977, this_hour)}
    assert f"hour {label(this_hour)}" in shown and "United States" in shown
    assert any(trend in shown for trend in trends)
    assert cli.ok("hot-topics", "show", "global", "--hour", label(this_hour)).stdout.count("\n") > 20


def test_rerunning_an_hour_reads_the_archive_and_writes_the_same_rankings(cli, pack_env: Path, this_hour: int):
    run_hour(cli)
    first = rankings_of(pack_env, this_hour)
    archive = Archive.from_uri(str(pack_env / ".ebbflow" / "archive"))
    inputs = archive.path(layout.tweets(this_hour, 23424977))
    written = archive.filesystem.get_file_info(inputs).mtime
    # when the same hour runs again
    run_hour(cli, f"hour={label(this_hour)}")
    # then the rankings are the same and the inputs were read back, not fetched and rewritten
    assert rankings_of(pack_env, this_hour) == first
    assert archive.filesystem.get_file_info(inputs).mtime == written


def test_a_past_hour_without_archived_inputs_is_dead_lettered_with_the_reason(
    cli, pack_env: Path, this_hour: int, configured_store
):
    past = label(this_hour - 5 * HOUR_MS)
    cli.ok("pack", "submit", "hot-topics", "--param", "woeids=23424977", "--param", f"hour={past}")
    cli.ok("work", "--idle-exit")
    (dead,) = configured_store().dead_letters()
    assert dead.type == "hot-topics.map" and dead.attempts == 1  # no retries: trying again cannot help
    assert "X only serves the current hour's trends" in (dead.error or "")


@pytest.mark.parametrize(
    ("limits", "dead_type", "needle"),
    [
        (RateLimits(x=Limit(cap=0)), "hot-topics.map", "usage cap reached (Usage cap exceeded: Monthly product cap)"),
        (RateLimits(video=Limit(cap=0)), "hot-topics.reduce", "daily quota spent (quotaExceeded)"),
    ],
    ids=["x-monthly-cap", "search-daily-quota"],
)
def test_a_spent_usage_cap_dead_letters_at_once_naming_it(
    cli, workdir: Path, monkeypatch, this_hour: int, configured_store, limits, dead_type, needle
):
    # given an emulator whose X token (or search key) has spent its usage cap
    with EmulatorServer(WorldConfig(), limits) as server:
        monkeypatch.setenv("EBBFLOW_PACKS__EMULATOR", server.base_url)
        monkeypatch.setenv("EBBFLOW_PACKS__INDEX", f"sqlite:///{workdir / 'index.db'}")
        monkeypatch.setenv("EBBFLOW_PACKS__RANKINGS", f"sqlite:///{workdir / 'rankings.db'}")
        # when an hour of one place runs
        cli.ok("pack", "submit", "hot-topics", "--param", "woeids=23424977")
        cli.ok("work", "--idle-exit")
    # then the step that met the cap is dead-lettered on its first attempt, naming the cap (the adapters raise
    # UsageCappedError before any wait: tests/workloads/sources/test_x.py and test_video_search.py hold that)
    (dead,) = configured_store().dead_letters()
    assert (dead.type, dead.attempts) == (dead_type, 1) and needle in (dead.error or ""), dead.error


def test_bad_parameters_name_the_field_and_queue_nothing(cli, pack_env: Path, configured_store):
    for param, needle in (("woeids=99999999", "unknown WOEID 99999999"), ("hour=tomorrow", "like 2026-12-01T05"),
                          ("top=0", "top")):  # fmt: skip
        result = cli("pack", "submit", "hot-topics", "--param", param)
        assert result.exit_code == 2 and needle in result.output, result.output
    result = cli("hot-topics", "show", "12345")
    assert result.exit_code == 2 and "not a known place" in result.output
    assert configured_store().stats().pending == {}


def test_the_hourly_plan_job_plans_the_tick_and_finishes_a_stuck_previous_hour(
    cli, pack_env: Path, this_hour: int, configured_store
):
    # given an hour whose maps ran but whose reduce output is gone (as if its last map had dead-lettered)
    run_hour(cli)
    archive = Archive.from_uri(str(pack_env / ".ebbflow" / "archive"))
    archive.filesystem.delete_file(archive.path(layout.hot(this_hour)))
    # when the cron's job for the next hour runs (the tick is that hour; its maps cannot fetch yet: the future)
    payload = json.dumps({"woeids": ",".join(map(str, PLACES)), "tick_ms": this_hour + HOUR_MS})
    cli.ok("submit", "hot-topics.plan", "--tenant", "cron", "--payload", payload)
    cli.ok("work", "--idle-exit")
    # then the stuck hour was reduced again, and the next hour's maps were queued (and dead-lettered: too early)
    assert archive.exists(layout.hot(this_hour))
    dead = configured_store().dead_letters(limit=10)
    assert sorted(job.type for job in dead) == ["hot-topics.map"] * 3
    assert all(job.payload["hour_ms"] == this_hour + HOUR_MS for job in dead)


def test_a_bad_cron_payload_is_dead_lettered_naming_the_field(cli, pack_env: Path, configured_store):
    cli.ok("submit", "hot-topics.plan", "--tenant", "cron", "--payload", '{"woeids": "99999999"}')
    cli.ok("work", "--idle-exit")
    (dead,) = configured_store().dead_letters()
    assert dead.attempts == 1 and "woeids: unknown WOEID 99999999" in (dead.error or "")


def test_the_cron_schedule_is_listed(cli, workdir: Path):
    (workdir / "ebbflow.toml").write_text(
        '[[cron]]\nname = "hot-topics"\ncron = "0 * * * *"\ntype = "hot-topics.plan"\npass_tick = true\n'
        'payload = { woeids = "1,23424977" }\n'
    )
    shown = cli.ok("--config", "ebbflow.toml", "cron", "list").stdout
    assert "hot-topics" in shown and "hot-topics.plan" in shown and "0 * * * *" in shown


@pytest.fixture
def s3_archive(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bucket on a moto S3 server, as `packs.archive` names it; credentials from the usual environment."""
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", REGION)):  # fmt: skip
        monkeypatch.setenv(name, value)
    server = MotoServer.start()
    try:
        boto3.client("s3", endpoint_url=server.url, region_name=REGION).create_bucket(Bucket="ebbflow-archive")
        yield f"s3://ebbflow-archive/prod?endpoint_override=127.0.0.1:{server.port}&scheme=http&region={REGION}"
    finally:
        server.stop()


def test_the_archive_on_s3_holds_the_hour_partitioned(
    cli, pack_env: Path, this_hour: int, s3_archive: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("EBBFLOW_PACKS__ARCHIVE", s3_archive)
    run_hour(cli)
    archive = Archive.from_uri(s3_archive)
    files = archive.list(layout.ROOT)
    date, hour = label(this_hour).split("T")
    for woeid in PLACES:
        for kind in ("tweets", "trends", "contexts"):
            assert f"{layout.ROOT}/{kind}/date={date}/hour={hour}/woeid={woeid}/part-0.parquet" in files
    assert f"{layout.ROOT}/hot/date={date}/hour={hour}/part-0.parquet" in files
    assert not [path for path in files if path.endswith(".tmp")]  # every write was moved into place
    assert rankings_of(pack_env, this_hour)  # the reduce read the maps' output back from S3
