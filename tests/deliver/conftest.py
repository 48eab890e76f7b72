"""Fixtures for delivery tests: a real SMTP server (aiosmtpd on 127.0.0.1) and the newsroom."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "digest"))

from newsroom import build_newsroom  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def newsroom(settings):
    from flows.pipeline import store_for

    build_newsroom(store_for(settings))
    return settings
