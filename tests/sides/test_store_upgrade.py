"""An SQLite store made before quotes were stored gains its `item_quotes` table on opening;
saving an item's quotes twice leaves one row (tests/service/test_quotes_postgres.py: the same on
PostgreSQL)."""

from __future__ import annotations

from store_upgrade import check_upgrade_and_reruns


def test_sqlite_store_upgrade_and_reruns(tmp_path):
    check_upgrade_and_reruns(f"sqlite:///{tmp_path / 'old.sqlite3'}")
