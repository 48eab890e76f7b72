"""Fixtures for the fetcher and feed tests: a live HTTP server, fast-timeout settings, a store."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from flows.config import FetchSettings, Settings
from flows.store import open_store
from tests.material import shared_path
from webserver import WebServer


@pytest.fixture
def web():
    server = WebServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings with short timeouts and private addresses allowed (the server is on 127.0.0.1)."""

    def make(**fetch) -> Settings:
        values = dict(allow_private_addresses=True, connect_timeout=1.0, read_timeout=0.5)
        values.update(fetch)
        return Settings(data_dir=tmp_path, seeds_dir=None, fetch=FetchSettings(**values))

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    yield s
    s.close()


@pytest.fixture
def shared_fixtures() -> Path:
    return shared_path("fixtures")
