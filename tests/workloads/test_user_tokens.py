"""`packs.facebook.user_tokens`: the deployer's token lookup is imported on the worker, and a bad setting says
which setting and what is wrong."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from scheduler.errors import ConfigError
from workloads.resources import Resources
from workloads.settings import FacebookSettings, PacksSettings
from workloads.social_graph.networks import stored_tokens
from workloads.user_tokens import load_user_tokens


@pytest.fixture
def token_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A deployer's module, on the import path as an installed app's would be."""
    (tmp_path / "deployer_tokens_mod.py").write_text(
        "STORED = {'u1': 'tok-u1'}\n\n"
        "def facebook_token(user_id):\n    return STORED.get(user_id)\n\n"
        "NOT_A_FUNCTION = 3\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "deployer_tokens_mod"
    sys.modules.pop("deployer_tokens_mod", None)


def test_the_configured_lookup_is_what_social_graph_reads_friends_feeds_with(token_module: str) -> None:
    settings = PacksSettings(facebook=FacebookSettings(user_tokens=f"{token_module}:facebook_token"))
    tokens = stored_tokens(Resources(settings))
    assert tokens("u1") == "tok-u1" and tokens("u2") is None


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("no_such_module_xyz:f", "cannot import"),
        ("{mod}:missing", "no function"),
        ("{mod}:NOT_A_FUNCTION", "no function"),
    ],
)
def test_a_bad_lookup_names_the_setting(token_module: str, spec: str, says: str) -> None:
    with pytest.raises(ConfigError, match=rf"packs\.facebook\.user_tokens: .*{says}"):
        load_user_tokens(spec.format(mod=token_module))


def test_the_setting_must_look_like_module_colon_function() -> None:
    with pytest.raises(ValidationError, match="user_tokens"):
        FacebookSettings(user_tokens="not a spec")
