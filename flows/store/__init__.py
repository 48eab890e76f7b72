"""The store: the only place that speaks SQL. SQLAlchemy 2, SQLite (WAL) by default, PostgreSQL too."""

from flows.store.db import Store, open_store

__all__ = ["Store", "open_store"]
