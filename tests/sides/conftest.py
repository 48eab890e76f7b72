"""Fixtures: both sides' fixture sites on loopback, and a project that has ingested them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sites import start_sites  # noqa: E402
from tests.conftest import write_config  # noqa: E402


@pytest.fixture(scope="module")
def sites():
    s = start_sites()
    yield s
    s.stop()


@pytest.fixture
def both_sides(project, sites):
    """A project whose feeds are the loopback sites of both sides, ingested once."""
    from flows import pipeline
    from flows.config import load_settings

    path = write_config(
        project,
        seeds_dir=None,
        feeds=sites.feeds(),
        fetch={"allow_private_addresses": True, "connect_timeout": 2, "read_timeout": 5},
    )
    settings = load_settings(path)
    report = pipeline.run_ingest(settings, pipeline.IngestOptions(sources="feeds"))
    errors = [s.to_dict() for s in report.sources if s.status == "error"]
    assert not errors, errors
    return settings, report
