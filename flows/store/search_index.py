"""The full-text index's tables: FTS5 with triggers on SQLite, a generated tsvector on PostgreSQL.

Apart from `search` (the queries), because `db.create_tables` makes the index on every open and
must not import the query side, which imports `db`.
"""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

TITLE_WEIGHT, TEXT_WEIGHT = 10.0, 1.0
PG_TEXT_CHARS = 300_000  # a tsvector holds at most 1 MB: index the first 300,000 characters

_SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS items_fts USING fts5(title, text, content='items', "
    "content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS items_fts_insert AFTER INSERT ON items BEGIN "
    "INSERT INTO items_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS items_fts_delete AFTER DELETE ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS items_fts_update AFTER UPDATE OF title, text ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text); "
    "INSERT INTO items_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text); END",
]

_PG_COLUMN = (
    "ALTER TABLE items ADD COLUMN IF NOT EXISTS search_tsv tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    f"setweight(to_tsvector('english'::regconfig, left(coalesce(text, ''), {PG_TEXT_CHARS})), 'B')) STORED"
)
_PG_INDEX = "CREATE INDEX IF NOT EXISTS ix_items_search_tsv ON items USING gin (search_tsv)"


def ensure_search_index(conn: Connection) -> bool:
    """Create the full-text index if the store lacks it, filling it from the stored items.

    Called by `create_tables` on every open, inside its transaction (on PostgreSQL under its
    advisory lock), so a store made before search gets the index the first time it is opened.
    Returns True when the index was created now.
    """
    dialect = conn.dialect.name
    if dialect == "sqlite":
        exists = (
            conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items_fts'").first()
            is not None
        )
        for ddl in _SQLITE_DDL:
            conn.exec_driver_sql(ddl)
        if not exists:
            conn.exec_driver_sql(
                f"INSERT INTO items_fts(items_fts, rank) VALUES ('rank', 'bm25({TITLE_WEIGHT}, {TEXT_WEIGHT})')"
            )
            conn.exec_driver_sql("INSERT INTO items_fts(items_fts) VALUES ('rebuild')")  # the backfill
        return not exists
    if dialect == "postgresql":
        columns = {c["name"] for c in inspect(conn).get_columns("items")}
        if "search_tsv" not in columns:
            conn.exec_driver_sql(_PG_COLUMN)  # computed for every stored row as it is added
        conn.exec_driver_sql(_PG_INDEX)
        return "search_tsv" not in columns
    return False
