"""Hardening suite plumbing: soak tests run only when asked for with `-m soak` (`make soak`).

The default `make test` runs `pytest -q` with no marker expression, so without this hook the
20-minute soak would run in every CI build. Selecting `-m soak` (or any expression naming the
marker) leaves the choice to pytest's own marker selection.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "soak" in (config.getoption("markexpr") or ""):
        return
    kept, deselected = [], []
    for item in items:
        (deselected if item.get_closest_marker("soak") else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
