from __future__ import annotations

import ebbflow


def test_every_name_in_all_exists():
    # given the package's declared public surface, then each name is importable from it
    missing = [name for name in ebbflow.__all__ if not hasattr(ebbflow, name)]
    assert missing == []


def test_all_covers_the_documented_entry_points():
    assert {"Settings", "load_settings", "open_store"} <= set(ebbflow.__all__)
