"""Settings: one TOML file plus EBBFLOW_* overrides; every problem a one-line ConfigError naming the field."""

from __future__ import annotations

import pytest

from ebbflow import Settings, load_settings
from scheduler.errors import ConfigError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_defaults(workdir):
    settings = load_settings()
    assert settings.store == "sqlite"
    assert settings.redis.url == "redis://127.0.0.1:6379/0"
    assert settings.redis.namespace == "ebbflow"
    assert settings.scheduler.lease_ttl_s == 30
    assert settings.cron == []


def test_the_default_file_in_the_working_directory_is_read(workdir):
    write(workdir / "ebbflow.toml", 'store = "redis"\n[redis]\nnamespace = "from-file"\n')
    settings = load_settings()
    assert (settings.store, settings.redis.namespace) == ("redis", "from-file")


def test_env_wins_over_the_file_and_both_merge(workdir, monkeypatch):
    # given a file setting two scheduler values and the env overriding one of them
    path = write(workdir / "conf.toml", "[scheduler]\nlease_ttl_s = 5\nmax_attempts = 3\n")
    monkeypatch.setenv("EBBFLOW_SCHEDULER__LEASE_TTL_S", "10")
    monkeypatch.setenv("EBBFLOW_STORE", "redis")
    # when loading, then env wins where both speak and the file's other value stays
    settings = load_settings(path)
    assert settings.scheduler.lease_ttl_s == 10
    assert settings.scheduler.max_attempts == 3
    assert settings.store == "redis"


def test_ebbflow_config_env_names_the_file(workdir, monkeypatch):
    path = write(workdir / "other.toml", "[scheduler]\nmax_attempts = 7\n")
    monkeypatch.setenv("EBBFLOW_CONFIG", str(path))
    assert load_settings().scheduler.max_attempts == 7


def test_cron_schedules_load_from_the_file(workdir):
    path = write(
        workdir / "c.toml",
        '[[cron]]\nname = "hourly"\ncron = "0 * * * *"\ntype = "noop"\nclass = "daily-active"\n',
    )
    (schedule,) = load_settings(path).cron
    assert (schedule.name, schedule.type, schedule.job_class) == ("hourly", "noop", "daily-active")


def test_a_missing_named_file_is_an_error(workdir):
    with pytest.raises(ConfigError, match=r"^config: nope\.toml: no such file"):
        load_settings("nope.toml")


def test_bad_toml_is_an_error(workdir):
    path = write(workdir / "bad.toml", "store = \n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(path)


def test_a_bad_file_value_names_the_field_and_the_file(workdir):
    write(workdir / "ebbflow.toml", "[scheduler]\nlease_ttl_s = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == "config: scheduler.lease_ttl_s: Input should be greater than 0 (from ebbflow.toml)"


def test_a_bad_env_value_names_the_variable(workdir, monkeypatch):
    monkeypatch.setenv("EBBFLOW_SCHEDULER__MAX_ATTEMPTS", "many")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    line = str(caught.value)
    assert line.startswith("config: scheduler.max_attempts: Input should be a valid integer")
    assert line.endswith("(from EBBFLOW_SCHEDULER__MAX_ATTEMPTS)")


def test_one_line_per_problem(workdir):
    path = write(
        workdir / "bad.toml",
        'store = "mysql"\n[scheduler]\nlease_ttl_s = -1\nfoo = 1\n[redis]\nurl = "http://x"\n'
        '[[cron]]\nname = "x"\ncron = "bad"\ntype = "noop"\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "store",
        "redis.url",
        "scheduler.lease_ttl_s",
        "scheduler.foo",
        "cron[0].cron",
    ]
    assert all(line.startswith("config: ") and line.endswith(f"(from {path})") for line in lines)
    assert "unknown setting" in lines[3]


def test_a_model_level_error_names_the_inner_field(workdir, monkeypatch):
    monkeypatch.setenv("EBBFLOW_SCHEDULER__DEFAULT_CLASS", "nope")
    with pytest.raises(
        ConfigError,
        match=r"^config: scheduler\.default_class: 'nope' is not one of .*"
        r"\(from EBBFLOW_SCHEDULER__DEFAULT_CLASS\)$",
    ):
        load_settings()


def test_unparsable_json_in_env_names_the_variable(workdir, monkeypatch):
    monkeypatch.setenv("EBBFLOW_SCHEDULER__LEVELS", "[oops")
    with pytest.raises(ConfigError, match=r"^config: scheduler: not valid JSON.*\(from EBBFLOW_SCHEDULER__LEVELS\)$"):
        load_settings()


def test_settings_defaults_need_no_file(workdir):
    assert Settings().sqlite.path == str(workdir / "queue.db")  # from the fixture's EBBFLOW_SQLITE__PATH


def test_the_decision_log_rotation_is_checked_with_the_fix_named(workdir):
    # given a rotation size too small to hold decisions, and no rotated file kept
    write(workdir / "ebbflow.toml", "[autoscaler]\nlog_max_bytes = 1000\nlog_backups = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    # then each is one line naming the field, the least it takes and a good value
    size, backups = str(caught.value).splitlines()
    assert size.startswith("config: autoscaler.log_max_bytes: 1000 bytes would rotate the decision log")
    assert "at least 65536" in size and "16777216 (16 MiB" in size and size.endswith("(from ebbflow.toml)")
    assert backups.startswith("config: autoscaler.log_backups: 0: keep at least 1 rotated file")


def test_the_decision_log_rotates_at_16_mib_keeping_4_files_by_default(workdir):
    scaling = load_settings().autoscaler
    assert (scaling.log_max_bytes, scaling.log_backups) == (16 * 1024 * 1024, 4)
