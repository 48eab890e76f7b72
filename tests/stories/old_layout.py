"""The story index as stores made before the period column have it (for the upgrade tests)."""

from __future__ import annotations

from sqlalchemy import text


def downgrade_story_index(session, dialect: str) -> None:
    """Replace the band and term tables by their old, key-first layout, empty (the upgrade must
    refill them from the fingerprints)."""
    without_rowid = " WITHOUT ROWID" if dialect == "sqlite" else ""
    for table, key in (("story_bands", "band BIGINT"), ("story_terms", "term VARCHAR(64)")):
        session.execute(text(f"DROP TABLE {table}"))
        session.execute(
            text(
                f"CREATE TABLE {table} ({key}, day INTEGER, item_id VARCHAR(32), "
                f"PRIMARY KEY ({key.split()[0]}, day, item_id)){without_rowid}"
            )
        )
