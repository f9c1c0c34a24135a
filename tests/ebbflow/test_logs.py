"""Log output: JSON lines that parse and carry ts, level, logger, message, extras and exceptions; the text
format as before; and `ebbflow head --log-format` / `head.log_format` choosing between them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import ebbflow.head
from dispatcher.inflight import DispatchCounts
from dispatcher.markets import Market
from ebbflow.config import load_settings
from ebbflow.logs import configure_logging
from scheduler.errors import ConfigError


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    """A logger of the test's own that does not pass records on; its handlers are removed afterwards."""
    named = logging.getLogger(f"tests.logs.{request.node.name}")
    named.propagate = False
    yield named
    for handler in list(named.handlers):
        named.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_fields_and_the_extras(logger):
    stream = io.StringIO()
    configure_logging("info", "json", logger, stream)
    logger.debug("below the level")
    logger.info("launched %d x %s", 2, "spot-a", extra={"node_type": "spot-a", "count": 2, "where": Path("/x")})
    (line,) = lines(stream)
    assert line["message"] == "launched 2 x spot-a"
    assert line["level"] == "INFO" and line["logger"] == logger.name
    assert line["node_type"] == "spot-a" and line["count"] == 2
    assert line["where"] == "/x"  # what JSON cannot hold goes as its str
    assert line["ts"].endswith("Z")
    assert datetime.fromisoformat(line["ts"]).utcoffset() == timedelta(0)
    # and none of the record's own attributes leak in as fields, nor private ones (Ray stamps one on every record)
    assert set(line) == {"ts", "level", "logger", "message", "node_type", "count", "where"}


def test_an_exception_is_one_string_field_of_one_line(logger):
    stream = io.StringIO()
    configure_logging("info", "json", logger, stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("launch failed", extra={"request_id": "ebbflow-1-spot-a", "market": Market.SPOT})
    (line,) = lines(stream)
    assert line["message"] == "launch failed" and line["level"] == "ERROR"
    assert line["exception"].startswith("Traceback") and line["exception"].endswith("ValueError: boom")
    assert line["request_id"] == "ebbflow-1-spot-a" and line["market"] == "spot"


def test_an_extra_named_like_a_field_does_not_hide_it(logger):
    stream = io.StringIO()
    configure_logging("info", "json", logger, stream)
    logger.info("hello", extra={"level": "mine", "logger": "mine"})
    (line,) = lines(stream)
    assert line["level"] == "INFO" and line["logger"] == logger.name


def test_text_is_the_format_it_was(logger):
    stream = io.StringIO()
    configure_logging("warning", "text", logger, stream)
    logger.info("not shown")
    logger.warning("drain of %s failed", "n-1", extra={"node": "n-1"})
    assert stream.getvalue().endswith(f" WARNING {logger.name}: drain of n-1 failed\n")


def test_head_log_format_comes_from_the_config_and_the_environment(workdir, monkeypatch):
    assert load_settings().head.log_format == "text"
    monkeypatch.setenv("EBBFLOW_HEAD__LOG_FORMAT", "json")
    assert load_settings().head.log_format == "json"
    monkeypatch.setenv("EBBFLOW_HEAD__LOG_FORMAT", "yaml")
    with pytest.raises(ConfigError, match=r"head\.log_format"):
        load_settings()


@pytest.fixture
def fake_head(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`ebbflow head` with a run_head that only logs a line (no Ray); the root logger is put back afterwards."""

    def run_head(settings, scheduler, until=None) -> DispatchCounts:
        logging.getLogger("ebbflow.head").info("dispatching", extra={"head": "h-1"})
        return DispatchCounts()

    monkeypatch.setattr(ebbflow.head, "run_head", run_head)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_ebbflow_head_writes_json_lines_when_asked(cli, fake_head, monkeypatch):
    result = cli.ok("head", "--log-format", "json")
    line = json.loads(result.stderr.splitlines()[-1])
    assert (line["logger"], line["message"], line["head"]) == ("ebbflow.head", "dispatching", "h-1")
    assert result.stdout.startswith("head stopped: leased 0")
    # the environment sets the default; the option wins over it
    monkeypatch.setenv("EBBFLOW_HEAD__LOG_FORMAT", "json")
    assert json.loads(cli.ok("head").stderr.splitlines()[-1])["message"] == "dispatching"
    assert cli.ok("head", "--log-format", "text").stderr.splitlines()[-1].endswith("INFO ebbflow.head: dispatching")


def test_ebbflow_head_refuses_an_unknown_log_format(cli):
    result = cli("head", "--log-format", "yaml")
    assert result.exit_code == 2 and "'yaml' is not one of 'text', 'json'" in result.stderr
