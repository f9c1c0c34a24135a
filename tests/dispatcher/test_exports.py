"""The public surface: every name in dispatcher.__all__ resolves to the object its module defines."""

from __future__ import annotations

import importlib
import subprocess
import sys

import dispatcher


def test_every_exported_name_exists() -> None:
    missing = [name for name in dispatcher.__all__ if getattr(dispatcher, name, None) is None]
    assert missing == []


def test_all_lists_every_lazily_loaded_name() -> None:
    assert sorted(dispatcher.__all__) == sorted(dispatcher._WHERE)


def test_importing_the_settings_parts_does_not_import_ray() -> None:
    code = "import sys, dispatcher.config, dispatcher.markets; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_an_unknown_name_is_an_attribute_error() -> None:
    module = importlib.import_module("dispatcher")
    try:
        module.NoSuchThing  # noqa: B018
    except AttributeError as err:
        assert "NoSuchThing" in str(err)
    else:
        raise AssertionError("expected AttributeError")
