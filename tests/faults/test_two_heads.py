"""Two `ebbflow head` processes on one store and one local Ray cluster, as an operator runs a standby: one leads
(its /metrics says `ebbflow_head_is_leader 1`), the other stands by; SIGKILL the leader and the standby leads
within the lease TTL and one renew period; SIGTERM a leader and the standby leads within one renew period.
Both heads dispatch all along: every job submitted is done once.

The store is SQLite (the embedded default) or Redis; short lease times (EBBFLOW_HEAD__LEADER_TTL_S=3, renew
every 1 s) keep it quick. The figures with the defaults are in docs/heads.md."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bench.private_redis import free_port
from tests.ebbflow.test_cli_head import EBBFLOW, ray_address_of, start, stop
from tests.stores import REDIS_HOST, REDIS_PORT, delete_redis_keys

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
TTL_S = 3.0
RENEW_S = 1.0
JOBS = 12


def leads(port: int) -> bool | None:
    """What a head's /metrics says of its leadership; None while it does not answer yet."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith("ebbflow_head_is_leader "):
            return float(line.split()[1]) == 1
    return None


def first_round(head: subprocess.Popen[str]) -> None:
    """Read a head's output up to the counts it logs at its first round (ebbflow.head's report hook)."""
    seen = []
    for line in head.stdout or ():
        if "leased " in line and ", done " in line:
            return
        seen.append(line)
    pytest.fail(f"the head ended before its first round: {''.join(seen)}")


def wait_until(condition: Callable[[], bool], limit_s: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < limit_s, f"{what}: not within {limit_s} s"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture(params=["sqlite", "redis"])
def store_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    env = {"EBBFLOW_HEAD__LEADER_TTL_S": str(TTL_S), "EBBFLOW_HEAD__LEADER_RENEW_EVERY_S": str(RENEW_S)}
    if request.param == "sqlite":
        yield env
        return
    namespace = f"t-{uuid.uuid4().hex}"
    yield {
        **env,
        "EBBFLOW_STORE": "redis",
        "EBBFLOW_REDIS__URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        "EBBFLOW_REDIS__NAMESPACE": namespace,
    }
    delete_redis_keys(namespace)


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_a_standby_head_takes_over(tmp_path: Path, store_env: dict[str, str], how: str) -> None:
    cluster = start("local-cluster", "--spot", "1", "--ondemand", "1", cwd=tmp_path)
    heads: list[subprocess.Popen[str]] = []
    try:
        address = ray_address_of(cluster)
        ports = [free_port(), free_port()]
        for port in ports:
            env = {**store_env, "EBBFLOW_HEAD__METRICS_PORT": str(port)}
            heads.append(start("head", "--ray-address", address, cwd=tmp_path, env=env))
        # given one leader and one standby
        # (a head's first round comes after its dispatcher warmed up, seconds on a busy machine: a standby still
        # warming up could not take over yet)
        for head in heads:
            first_round(head)
        wait_until(lambda: None not in [leads(port) for port in ports], 120, "both heads serve /metrics")
        wait_until(lambda: True in [leads(port) for port in ports], 120, "a leader")
        wait_until(lambda: [leads(port) for port in ports].count(True) == 1, 0.5, "one leader only")
        leader = next(i for i, port in enumerate(ports) if leads(port))
        standby = 1 - leader
        assert leads(ports[standby]) is False
        # when the leader goes (SIGKILL: its lease lapses; SIGTERM: it gives the lease up)
        if how == "kill":
            heads[leader].kill()
            heads[leader].wait(30)
        else:
            heads[leader].terminate()
        gone_at = time.monotonic()
        wait_until(lambda: leads(ports[standby]) is True, TTL_S + RENEW_S + 10, "the standby leads")
        takeover_s = time.monotonic() - gone_at
        limit_s = TTL_S + RENEW_S if how == "kill" else RENEW_S
        # then it leads within the bound (plus a scrape's and a dispatcher step's worth)
        assert takeover_s <= limit_s + 2.0, takeover_s
        print(f"{how}: standby leads after {takeover_s:.2f} s (TTL {TTL_S} s, renew every {RENEW_S} s)")
        # and it dispatches what is submitted now
        for i in range(JOBS):
            submit = [EBBFLOW, "submit", "noop", "--tenant", f"t{i % 3}", "--class", "batch"]
            subprocess.run(submit, cwd=tmp_path, check=True, capture_output=True, env={**os.environ, **store_env})
        status = [EBBFLOW, "status"]

        def settled() -> bool:
            environ = {**os.environ, **store_env}
            out = subprocess.run(status, cwd=tmp_path, capture_output=True, text=True, env=environ, check=True)
            return "no jobs pending or running" in out.stdout

        wait_until(settled, 90, "the jobs done")
    finally:
        outs = [stop(head) if head.poll() is None else head.communicate()[0] for head in heads]
        stop(cluster)
    assert any(f"done {JOBS}" in out for out in outs), outs
