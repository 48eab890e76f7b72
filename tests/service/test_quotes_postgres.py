"""Quotes on a real PostgreSQL: a store made before `item_quotes` existed is upgraded by opening
it, and re-running the step stores nothing twice (the SQLite twin: tests/sides/test_store_upgrade.py)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from tests.pgcluster import Cluster

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sides"))

from store_upgrade import check_upgrade_and_reruns  # noqa: E402


def test_postgres_store_upgrade_and_reruns(postgres: Cluster):
    check_upgrade_and_reruns(postgres.create_database(f"quotes_{uuid.uuid4().hex[:8]}"))
