"""What one CrawlState backend alone does (the Bloom filter's false positives, the Redis key layout, SQLite's
exact "bloom"), and `open_crawl_state` URLs. The shared contract is in test_crawl_state.py."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis

import workloads.crawl_state
from tests.workloads.contracts.conftest import REDIS_DB, REDIS_HOST, REDIS_PORT, CrawlBackend, redis_admin
from tests.workloads.contracts.test_rankings import BAD_RANKINGS_URLS
from workloads.crawl_state import CrawlCaps, CrawlState, RedisCrawlState, SQLiteCrawlState, open_crawl_state
from workloads.crawl_state.bloom import bloom_shape
from workloads.rankings import open_rankings

T0 = 1_700_000_000_000


# -- what only the Bloom filter does ----------------------------------------------------------------------------


@pytest.mark.parametrize("crawl_backend", ["redis-bloom"], indirect=True)
def test_the_bloom_filter_keeps_near_its_false_positive_rate(crawl_state: CrawlState) -> None:
    # given a crawl sized for 20,000 videos at 1% false positives, filled to its cap
    crawl_state.start("c1", CrawlCaps(3, 20_000, "bloom", 0.01), ["seed"], T0)
    claimed, offered, batch = ["seed"], 0, 0
    while len(claimed) < 20_000:
        candidates = [f"in-{offered + i}" for i in range(1000)]
        offered += len(candidates)
        claimed += crawl_state.claim_children("c1", batch, 1, candidates).new  # parents: the first videos
        batch += 1
    # when 100,000 videos never offered are offered (the cap is reached: an unseen one counts as cut by it)
    summary = crawl_state.summary("c1")
    assert summary is not None
    cut_before = summary.cut_by_cap
    for probe in range(100):
        crawl_state.claim_children("c1", batch + probe, 1, [f"out-{probe}-{i}" for i in range(1000)])
    summary = crawl_state.summary("c1")
    assert summary is not None
    false_positives = 100_000 - (summary.cut_by_cap - cut_before)
    # then none was ever claimed twice, exactly 20,000 were claimed, and about 1% looked seen: expect 1,000
    # (the binomial's standard deviation is 31; the bounds are 16 of them away, so this never flakes)
    assert len(claimed) == len(set(claimed)) == summary.claimed == 20_000
    assert 500 <= false_positives <= 2000, false_positives
    skipped_while_filling = offered - (len(claimed) - 1) - cut_before
    assert skipped_while_filling < 0.01 * offered  # an emptier filter gives fewer false positives


@pytest.mark.parametrize("crawl_backend", ["redis-set", "redis-bloom"], indirect=True)
def test_redis_keeps_the_seen_videos_as_its_dedupe_mode_says(crawl_backend: CrawlBackend) -> None:
    state = crawl_backend.open()
    assert isinstance(state, RedisCrawlState)
    caps = crawl_backend.caps(max_videos=100_000)
    state.start("c1", caps, ["s1", "s2"], T0)
    admin = redis_admin()
    try:
        seen = state.keys("c1").seen
        assert seen.endswith("crawl:{c1}:seen")  # a hash tag: one crawl, one cluster slot
        if crawl_backend.dedupe == "set":
            assert (admin.type(seen), admin.scard(seen)) == ("set", 2)
        else:  # the whole filter, allocated at start
            assert (admin.type(seen), admin.strlen(seen)) == ("string", -(-bloom_shape(100_000, 0.001).bits // 8))
    finally:
        admin.close()


@pytest.mark.parametrize("crawl_backend", ["redis-bloom"], indirect=True)
def test_redis_refuses_a_bloom_filter_over_512_mb(crawl_backend: CrawlBackend, crawl_state: CrawlState) -> None:
    with pytest.raises(ValueError, match="2\\^32"):
        crawl_state.start("c1", crawl_backend.caps(max_videos=10**9, bloom_error=1e-9), ["s"], T0)
    assert crawl_state.crawls() == []


@pytest.mark.parametrize("crawl_backend", ["sqlite"], indirect=True)
def test_sqlite_keeps_bloom_crawls_exact(crawl_state: CrawlState) -> None:
    # given a "bloom" crawl at a 50% error rate, which a real filter would saturate at once
    caps = CrawlCaps(3, 5000, "bloom", 0.5)
    crawl_state.start("c1", caps, ["seed"], T0)
    # then every new candidate is claimed, and the caps are reported as given
    videos = [f"v{i:04d}" for i in range(4999)]
    assert crawl_state.claim_children("c1", 0, 1, videos).new == videos
    summary = crawl_state.summary("c1")
    assert summary is not None
    assert (summary.caps, summary.claimed) == (caps, 5000)


# -- open_crawl_state -------------------------------------------------------------------------------------------


def test_open_crawl_state_puts_the_tables_in_the_rankings_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sub/r.db"
    state, rankings = open_crawl_state(url), open_rankings(url)
    try:
        assert isinstance(state, SQLiteCrawlState)
        state.start("c1", CrawlCaps(1, 10), ["s"], T0)
        rankings.add("hot", {"m": 1.0})
        assert (state.crawls(), rankings.names()) == (["c1"], ["hot"])
        assert state.path == str(tmp_path / "sub" / "r.db")
    finally:
        state.close()
        rankings.close()


def test_open_crawl_state_opens_redis_with_the_prefix_given() -> None:
    # given a prefix of this test's own
    admin = redis_admin()
    prefix = f"t-{uuid.uuid4().hex}:"
    state = open_crawl_state(f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}?prefix={prefix}")
    try:
        # when a crawl starts
        assert isinstance(state, RedisCrawlState)
        state.start("c1", CrawlCaps(1, 10), ["s"], T0)
        # then its keys carry that prefix and the crawl's hash tag
        assert sorted(admin.scan_iter(match=f"{prefix}*")) == [
            f"{prefix}crawl:{{c1}}:meta",
            f"{prefix}crawl:{{c1}}:seen",
            f"{prefix}crawls",
        ]
    finally:
        state.delete("c1")
        state.close()
        leaked = list(admin.scan_iter(match=f"{prefix}*"))
        if leaked:
            admin.delete(*leaked)
        admin.close()
    assert leaked == []


@pytest.mark.parametrize("url", BAD_RANKINGS_URLS)
def test_open_crawl_state_rejects_a_bad_url_naming_packs_rankings(url: str) -> None:
    with pytest.raises(ValueError, match=r"packs\.rankings") as caught:
        open_crawl_state(url)
    assert "s3cret" not in str(caught.value)
    assert "redis://" in str(caught.value)


def test_redis_crawl_state_refuses_a_client_that_does_not_decode() -> None:
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisCrawlState(client, "t-unused:")
    finally:
        client.close()


def test_the_package_exports_its_public_names() -> None:
    exported = {name for name in dir(workloads.crawl_state) if not name.startswith("_")}
    assert set(workloads.crawl_state.__all__) <= exported
    assert {"CrawlState", "RedisCrawlState", "SQLiteCrawlState", "open_crawl_state"} <= set(
        workloads.crawl_state.__all__
    )
