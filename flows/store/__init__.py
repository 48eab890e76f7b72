"""The store: the only place that speaks SQL. SQLAlchemy 2, SQLite (WAL) by default, PostgreSQL too."""

from flows.store.db import Store, StoreUnavailable, open_store

__all__ = ["Store", "StoreUnavailable", "open_store"]
