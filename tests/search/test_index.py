"""The full-text index kept by the store, on SQLite (FTS5) and on a real PostgreSQL (tsvector +
GIN): incremental on insert, text update and delete; filled for a store that predates it; title
ranked above body; snippets escaped; results grouped by story; filters."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, update

from flows.records import Article
from flows.search.results import search
from flows.store import open_store
from flows.store.items import upsert_items
from flows.store.schema import Item, Story


def article(
    n: int, title: str, text: str, source: str = "Reuters", url: str | None = None, published: datetime | None = None
) -> Article:
    url = url or f"https://news.example.org/{n}"
    return Article(
        key=url,
        source=source,
        source_kind="feed",
        url=url,
        title=title,
        text=text,
        published=published or datetime(2026, 3, 1 + n % 20, tzinfo=timezone.utc),
    )


CORPUS = [
    article(
        1,
        "Commerce adds Chinese chipmakers to the Entity List",
        "The rule bars American suppliers. <script>alert(1)</script> Beijing protested.",
    ),
    article(
        2,
        "Soybean exports slow",
        "Traders said the entity list and the entity list again and the "
        "entity list once more weighed on entity list sentiment.",
        source="Xinhua",
        url="https://english.news.cn/2",
    ),
    article(
        3,
        "Taiwan arms sale approved",
        "Washington approved an arms sale to Taiwan; Beijing protested.",
        source="Voice of America",
        url="https://www.voanews.com/3",
    ),
    article(4, "Arms sale to Taiwan angers Beijing", "A second report of the arms sale.", source="AP"),
]


@pytest.fixture(scope="module")
def pg_cluster():
    from tests.pgcluster import Cluster

    if os.environ.get("CI") == "true":
        from tests.pgcluster import server_binaries

        assert server_binaries() is not None, "PostgreSQL server binaries are required in CI"
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path}/store.sqlite3")
    else:
        cluster = request.getfixturevalue("pg_cluster")
        s = open_store(cluster.create_database(f"search_{uuid.uuid4().hex[:8]}"))
    yield s
    s.close()


def keys(results) -> list[str]:
    return [s.title for s in results.stories]


def test_incremental_insert_update_delete(store):
    upsert_items(store, CORPUS)
    assert keys(search(store, '"entity list"'))[0] == CORPUS[0].title  # the title outranks four body mentions
    assert set(keys(search(store, '"entity list"'))) == {CORPUS[0].title, CORPUS[1].title}
    with store.session() as s:  # a page retry replaces the text
        s.execute(update(Item).where(Item.id == CORPUS[2].item_id).values(text="Quantum computing export rules."))
    assert CORPUS[2].title not in keys(search(store, "washington"))
    assert keys(search(store, "quantum")) == [CORPUS[2].title]
    with store.session() as s:
        s.execute(delete(Item).where(Item.id == CORPUS[3].item_id))
    assert keys(search(store, '"arms sale"')) == [CORPUS[2].title]  # title still indexed; body gone


def test_snippets_are_escaped_and_marked(store):
    upsert_items(store, CORPUS)
    hit = search(store, "suppliers beijing").stories[0].hits[0]
    html = str(hit.snippet_html)
    assert "<script" not in html and "<mark>suppliers</mark>" in html
    if store.dialect == "sqlite":  # PostgreSQL's ts_headline drops tags itself
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_filters_and_grouping_by_story(store):
    upsert_items(store, CORPUS)
    with store.session() as s:
        s.add(
            Story(
                id="st-arms",
                representative_id=CORPUS[2].item_id,
                title="Taiwan arms sale",
                first_seen=datetime(2026, 3, 1, tzinfo=timezone.utc),
                last_seen=datetime(2026, 3, 5, tzinfo=timezone.utc),
                n_items=2,
            )
        )
        s.execute(update(Item).where(Item.id.in_([CORPUS[2].item_id, CORPUS[3].item_id])).values(story_id="st-arms"))
    grouped = search(store, '"arms sale"')
    assert [s.key for s in grouped.stories] == ["st-arms"] and len(grouped.stories[0].hits) == 2
    assert keys(search(store, "source:xinhua entity")) == [CORPUS[1].title]
    assert keys(search(store, "side:china")) == [CORPUS[1].title]  # by the outlet's host (news.cn)
    assert [h.source for h in search(store, "side:us arms").stories[0].hits] == ["Voice of America"]
    assert search(store, "story:st-arms beijing").stories[0].key == "st-arms"
    assert keys(search(store, "protested -taiwan")) == [CORPUS[0].title]
    assert keys(search(store, "protested until:2026-03-02")) == [CORPUS[0].title]  # published 2 March
    assert search(store, "protested since:2026-03-04").stories[0].key == "st-arms"
    assert keys(search(store, "chipmak*")) == [CORPUS[0].title]
    assert keys(search(store, "chipmaker")) == [CORPUS[0].title]  # stemmed


def test_store_made_before_search_is_indexed_on_open(tmp_path):
    url = f"sqlite:///{tmp_path}/old.sqlite3"
    old = open_store(url)
    with old.session() as s:  # as a store of the last release
        conn = s.connection()
        for trigger in ("items_fts_insert", "items_fts_update", "items_fts_delete"):
            conn.exec_driver_sql(f"DROP TRIGGER {trigger}")
        conn.exec_driver_sql("DROP TABLE items_fts")
    upsert_items(old, CORPUS)
    old.close()
    upgraded = open_store(url)
    assert set(keys(search(upgraded, '"arms sale"'))) == {CORPUS[2].title, CORPUS[3].title}
    upsert_items(upgraded, [article(9, "Rare earths quota", "Beijing cut rare earth export quotas.")])
    assert keys(search(upgraded, '"rare earth"')) == ["Rare earths quota"]  # and kept in step after


def test_postgres_store_made_before_search_gets_its_column(pg_cluster):
    from sqlalchemy import text

    url = pg_cluster.create_database(f"old_{uuid.uuid4().hex[:8]}")
    old = open_store(url)
    with old.session() as s:
        s.execute(text("DROP INDEX ix_items_search_tsv"))
        s.execute(text("ALTER TABLE items DROP COLUMN search_tsv"))
    upsert_items(old, CORPUS)
    old.close()
    upgraded = open_store(url)
    assert set(keys(search(upgraded, '"arms sale"'))) == {CORPUS[2].title, CORPUS[3].title}
    upgraded.close()
