"""Property tests of bad input at the CLI: `ebbflow submit` options, `pack submit` parameters and the config file.
Each example spoils one input of a command that works. It must exit non-zero with an error line naming what
to fix, and the queue must hold exactly what it held before."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ebbflow import load_settings, open_store
from scheduler.payload import MAX_DEPTH
from scheduler.store import QueueStats
from tests.ebbflow.conftest import Cli
from workloads.hot_topics.places import DEFAULT_WOEIDS

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
words = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8)
not_whole = st.one_of(
    words, st.floats(0.5, 9.5).filter(lambda x: not x.is_integer()).map(str), st.integers(max_value=0).map(str)
)


def queue_stats() -> QueueStats:
    store = open_store(load_settings())
    try:
        return store.stats()
    finally:
        store.close()


def refused(cli: Cli, args: list[str], names: str) -> None:
    before = queue_stats()
    result = cli(*args)
    assert result.exit_code != 0, f"accepted: ebbflow {' '.join(args)}\n{result.output}"
    error = result.output.lower()
    assert "error" in error and names.lower() in error, result.output
    assert "traceback" not in error
    assert queue_stats() == before


# (what the error must name, the arguments after `ebbflow submit sleep --tenant t`) -- each one spoils one option
SUBMIT_SPOILERS = [
    st.tuples(
        st.just("tenant"),
        st.text(min_size=1, max_size=6).filter(lambda t: " " in t or not t.isascii()).map(lambda t: ["--tenant", t]),
    ),
    st.tuples(st.just("class"), words.filter(lambda w: w not in {"batch"}).map(lambda w: ["--class", f"no-{w}"])),
    st.tuples(
        st.just("payload"),
        st.sampled_from(["{", "nan", '{"seconds": NaN}', "[1,]", "'x'"]).map(lambda p: ["--payload", p]),
    ),
    st.tuples(st.just("payload"), st.integers(MAX_DEPTH + 1, 200).map(lambda d: ["--payload", "[" * d + "]" * d])),
    st.tuples(
        st.just("payload"),
        st.one_of(st.integers(-9, -1), st.just(99_999)).map(lambda s: ["--payload", json.dumps({"seconds": s})]),
    ),
    st.tuples(st.just("--deadline"), words.map(lambda w: ["--deadline", f"{w}!"])),
    st.tuples(st.just("--max-attempts"), st.integers(max_value=0).map(lambda n: ["--max-attempts", str(n)])),
    st.tuples(st.just("key"), st.integers(257, 400).map(lambda n: ["--key", "k" * n])),
]


@EXAMPLES
@given(spoiled=st.one_of(SUBMIT_SPOILERS))
def test_a_spoiled_submit_is_refused_and_queues_nothing(cli: Cli, spoiled: tuple[str, list[str]]) -> None:
    names, extra = spoiled
    refused(cli, ["submit", "sleep", "--tenant", "t", "--payload", '{"seconds": 0}', *extra], names)


def test_an_unknown_type_is_refused_naming_the_registered_ones(cli: Cli) -> None:
    refused(cli, ["submit", "os:system", "--tenant", "t"], "is not a registered job type (registered:")


def test_a_key_in_the_cron_runners_space_is_refused(cli: Cli) -> None:
    # a tenant cannot take the next hot-topics tick's key (so that tick would never run)
    args = ["submit", "noop", "--tenant", "cron", "--key", "cron:hot-topics:1765152000000"]
    refused(cli, args, "key: 'cron:hot-topics:1765152000000' starts with 'cron:', which is reserved")


# pack, a parameter, a strategy for bad values of it
PACK_SPOILERS = [
    ("hot-topics", "woeids", st.integers(2, 10**9).filter(lambda w: w not in DEFAULT_WOEIDS).map(str)),
    ("hot-topics", "top", not_whole),
    ("hot-topics", "deadline_minutes", st.one_of(words, st.floats(max_value=0).map(str))),
    ("hot-topics", "hour", words),
    (
        "related-crawl",
        "seeds",
        st.text(alphabet=string.printable, max_size=20).filter(lambda s: len(s.strip(" ,")) not in (0, 11)),
    ),
    ("related-crawl", "max_depth", not_whole),
    ("social-graph", "activity", words.map(lambda w: f"{w}-user")),
    ("stale-videos", "batch_size", not_whole),
]
BASE_PARAMS = {
    "hot-topics": [],
    "related-crawl": ["seeds=dQw4w9WgXcQ"],
    "social-graph": ["users=17"],
    "stale-videos": [],
}


@EXAMPLES
@given(data=st.data())
def test_a_spoiled_pack_parameter_is_refused_by_name_and_queues_nothing(cli: Cli, data: st.DataObject) -> None:
    pack, name, strategy = data.draw(st.sampled_from(PACK_SPOILERS), label="pack parameter")
    value = data.draw(strategy, label=name)
    params = [pair for pair in BASE_PARAMS[pack] if not pair.startswith(f"{name}=")] + [f"{name}={value}"]
    refused(cli, ["pack", "submit", pack, *[arg for pair in params for arg in ("--param", pair)]], f"--param {name}")


@EXAMPLES
@given(name=words.map(lambda w: f"zz_{w}"))
def test_an_unknown_pack_parameter_lists_the_known_ones(cli: Cli, name: str) -> None:
    refused(cli, ["pack", "submit", "stale-videos", "--param", f"{name}=1"], "this pack's parameters:")


# a dotted setting, its TOML table and key, and bad TOML values for it
CONFIG_SPOILERS = [
    ("scheduler.lease_ttl_s", st.one_of(st.integers(max_value=0).map(str), words.map(json.dumps))),
    ("scheduler.max_attempts", st.one_of(st.integers(max_value=0).map(str), st.just("1.5"))),
    ("scheduler.backoff_base_s", st.integers(max_value=0).map(str)),
    ("head.metrics_port", st.one_of(st.integers(min_value=65536).map(str), st.integers(max_value=-1).map(str))),
    ("redis.namespace", st.text(alphabet="{}: ", min_size=1, max_size=4).map(json.dumps)),
    ("head.metrics_host", st.just('""')),  # (not sqlite.path: the test's environment sets it, and wins)
    ("store", words.filter(lambda w: w not in {"sqlite", "redis"}).map(json.dumps)),
]


@EXAMPLES
@given(data=st.data())
def test_a_spoiled_config_file_is_refused_naming_the_setting_and_the_file(cli: Cli, data: st.DataObject) -> None:
    setting, strategy = data.draw(st.sampled_from(CONFIG_SPOILERS), label="setting")
    value = data.draw(strategy, label=setting)
    table, _, key = setting.rpartition(".")
    config = Path("spoiled.toml").resolve()
    config.write_text(f"[{table}]\n{key} = {value}\n" if table else f"{key} = {value}\n")
    queue = Path(load_settings().sqlite.path)
    existed = queue.exists()
    result = cli("--config", str(config), "status")
    assert result.exit_code != 0, result.output
    assert f"config: {setting}" in result.output and str(config) in result.output, result.output
    assert queue.exists() == existed  # it never got as far as opening (or creating) a store


@pytest.mark.parametrize(
    "text", ["[scheduler\nlease_ttl_s = 1", "store = sqlite", "[scheduler]\nlease_ttl_s = 1\nlease_ttl_s = 2"]
)
def test_a_config_file_that_is_not_toml_is_refused_naming_it(cli: Cli, text: str) -> None:
    config = Path("broken.toml").resolve()
    config.write_text(text)
    result = cli("--config", str(config), "status")
    assert result.exit_code != 0 and f"{config} is not valid TOML" in result.output, result.output
