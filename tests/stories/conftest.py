from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tests.material import shared_path  # noqa: E402

from flows.store import open_store  # noqa: E402


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path}/store.db")
    yield s
    s.close()


@pytest.fixture(scope="session")
def corpus_available():
    shared_path("eval", "nyt-corpus.jsonl")
