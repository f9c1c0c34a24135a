"""The public surface: every name in workloads.__all__ resolves, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import workloads


def test_every_exported_name_exists() -> None:
    assert [name for name in workloads.__all__ if getattr(workloads, name, None) is None] == []


def test_loading_the_packs_imports_no_network_client() -> None:
    # every CLI command loads the installed packs; the clients are imported by the jobs, on the workers
    clients = "{'tweepy', 'aiohttp', 'httpx'}"
    code = f"import sys, workloads; workloads.load_packs(); print(sorted({clients} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
