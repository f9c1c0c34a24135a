"""`ebbflow pack list | submit`: packs are found by entry point, plans are queued whole or not at all."""

from __future__ import annotations

import pytest

from tests.ebbflow.conftest import pending_total


def test_pack_list_shows_every_installed_pack_with_its_types_and_parameters(cli):
    out = cli.ok("pack", "list").stdout
    for text in ("social-graph", "social-graph.fetch", "users=required", "stale-videos", "stale-videos.check"):
        assert text in out


def test_submit_plans_one_job_per_user_at_the_activitys_level(cli, configured_store):
    # given three users, one repeated
    out = cli.ok("pack", "submit", "social-graph", "--param", "users=11,12,11", "--param", "activity=new-signup").stdout
    # then two urgent jobs are queued, keyed by user
    assert "planned 2 jobs" in out and "2 queued" in out
    store = configured_store()
    assert store.stats().pending == {(0, "social-graph.fetch"): 2}
    again = cli.ok("pack", "submit", "social-graph", "--param", "users=11").stdout
    assert "0 queued, 1 already queued" in again and pending_total(store) == 2


def test_class_option_overrides_the_level(cli, configured_store):
    cli.ok("pack", "submit", "social-graph", "--param", "users=7", "--class", "weekly-active")
    assert configured_store().stats().pending == {(2, "social-graph.fetch"): 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-pack"], "PACK: 'no-such-pack' is not an installed pack"),
        (["social-graph"], "--param users: Field required"),
        (["social-graph", "--param", "users"], "is not KEY=VALUE"),
        (["social-graph", "--param", "users=1", "--param", "users=2"], "--param users: is given twice"),
        (["social-graph", "--param", "users=1", "--param", "lookback_days=abc"], "--param lookback_days:"),
        (["social-graph", "--param", "users=1", "--param", "colour=red"], "this pack's parameters: users"),
        (["social-graph", "--param", "users=1", "--param", "networks=myspace"], "--param networks.0:"),
        (["social-graph", "--param", "users=a b"], "--param users.0: String should match pattern"),
        (["social-graph", "--param", "users=1,2", "--class", "vip"], "class: 'vip' is not a configured class"),
    ],
)
def test_bad_parameters_get_one_error_line_and_queue_nothing(cli, configured_store, args, message):
    result = cli("pack", "submit", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr, result.stderr
    assert result.stderr.startswith("error: ")
    assert pending_total(configured_store()) == 0


def test_dry_run_stores_nothing(cli, configured_store):
    out = cli.ok("pack", "submit", "social-graph", "--param", "users=1,2,3", "--dry-run").stdout
    assert "would queue 3 jobs" in out
    assert pending_total(configured_store()) == 0


def test_submitted_jobs_carry_a_payload_the_type_accepts(cli, configured_store):
    cli.ok(
        "pack", "submit", "social-graph", "--param", "users=5", "--param", "networks=x", "--param", "lookback_days=3"
    )
    store = configured_store()
    (job,) = [lease.job for lease in store.lease(10, worker="t", ttl_ms=1000, now_ms=2**50)]
    assert job.payload == {"user": "5", "networks": ["x"], "lookback_days": 3}
    assert (job.tenant, job.key) == ("social-graph", "social-graph:5")


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ("postgres://db/x", "packs.index"),
        ("mysql://root:hunter2-secret@127.0.0.1:1/test", "packs.index: cannot open it"),
    ],
)
def test_a_stale_sweep_with_a_bad_index_says_which_setting_without_its_password(cli, monkeypatch, index, message):
    monkeypatch.setenv("EBBFLOW_PACKS__INDEX", index)
    result = cli("pack", "submit", "stale-videos")
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert "hunter2-secret" not in result.output
