from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pairset import CORPUS  # noqa: E402

from flows.store import open_store  # noqa: E402


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path}/store.db")
    yield s
    s.close()


@pytest.fixture(scope="session")
def corpus_available():
    if not CORPUS.exists():
        pytest.skip(f"shared eval corpus not found at {CORPUS}")
