"""Shared by the SQLite and PostgreSQL checks: a store made before `item_quotes` existed is
upgraded by opening it, and quotes are then read once, however often the step runs."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from flows.records import Article
from flows.store import open_store
from flows.store.schema import Base

SEED_002 = "seeds/002_4535c379219a8ba7.txt"


def make_old_store(url: str) -> None:
    """Every table but item_quotes, as stores were before issue 20, with one item in it."""
    engine = create_engine(url)
    tables = [t for name, t in Base.metadata.tables.items() if name != "item_quotes"]
    Base.metadata.create_all(engine, tables=tables)
    engine.dispose()
    store = open_store(url, create=False)
    from flows.store.items import upsert_items
    from flows.config import PROJECT_ROOT

    text = (PROJECT_ROOT / SEED_002).read_text(encoding="utf-8")
    upsert_items(
        store,
        [
            Article(
                key="seed:002",
                source="seeds",
                source_kind="seed",
                url="002.txt",
                title="Officials in Beijing",
                text=text,
            )
        ],
    )
    assert "item_quotes" not in inspect(store.engine).get_table_names()
    store.close()


def check_upgrade_and_reruns(url: str) -> None:
    from flows.quotes import VERSION, extract_quotes
    from flows.store.quotes import items_without_quotes, quotes_for, save_quotes

    make_old_store(url)
    store = open_store(url)  # what every run does first
    try:
        assert "item_quotes" in inspect(store.engine).get_table_names()
        pending = items_without_quotes(store, VERSION)
        assert [p[0] for p in pending] == [
            Article(key="seed:002", source="", source_kind="", url="", title="", text="").item_id
        ]
        rows = [(i, [q.to_dict() for q in extract_quotes(text)], {"Antony Blinken": 3}) for i, _, text in pending]
        for _ in range(2):  # a re-run (or a run killed after saving) replaces, never adds
            save_quotes(store, rows, VERSION)
        assert items_without_quotes(store, VERSION) == []
        [row] = quotes_for(store, [rows[0][0]]).values()
        assert len(row.quotes) == 20 and row.quotes[0]["speaker"] == "Chong Ja Ian"
        assert row.actors == {"Antony Blinken": 3}
        assert len(items_without_quotes(store, VERSION + "-next")) == 1  # a new version reads again
    finally:
        store.close()
