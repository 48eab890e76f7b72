"""Fixtures for digest tests: the newsroom of `newsroom.py` in an isolated project."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from newsroom import build_newsroom  # noqa: E402


@pytest.fixture
def newsroom(settings):
    """Settings of a project whose store holds a week of history and one day of news."""
    from flows.pipeline import store_for

    build_newsroom(store_for(settings))
    return settings
