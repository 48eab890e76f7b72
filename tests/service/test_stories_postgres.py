"""Story assignment on a real PostgreSQL: the same grouping, index and idempotence as on SQLite."""

from __future__ import annotations

from tests.service.harness import ROOT

from tests.pgcluster import Cluster

from flows.records import Article
from flows.sources.seeds import read_seeds
from flows.store import open_store
from flows.store.items import upsert_items
from flows.stories import assign_stories, get_story, story_sources


def test_seed_stories_on_postgres(postgres: Cluster):
    store = open_store(postgres.create_database("stories_pg"))
    try:
        seeds, errors = read_seeds(ROOT / "seeds")
        assert not errors
        copy = Article(
            key="copy:002",
            source="Copier",
            source_kind="feed",
            url="https://copies.example/002",
            title=seeds[2].title,
            text=seeds[2].text,
        )
        upsert_items(store, [*seeds, copy])
        ids = [a.item_id for a in [*seeds, copy]]
        first = assign_stories(store, ids)
        assert assign_stories(store, ids) == first
        by_name = {a.url[:3]: first[a.item_id] for a in seeds}
        assert by_name["000"] == by_name["002"] == first[copy.item_id]
        assert len(set(first.values())) == 4
        story = get_story(store, by_name["002"])
        assert story.n_items == 3
        assert {s.source for s in story_sources(store, story.id)} == {"seeds", "Copier"}
    finally:
        store.close()


def test_an_old_index_layout_is_rebuilt_on_postgres(postgres: Cluster):
    """A store whose band and term tables predate their period column: the first assignment
    rebuilds them from the fingerprints, in PostgreSQL's dialect, and copies still find their story."""
    from sqlalchemy import func, inspect, select

    from flows.store.schema import StoryBand, StoryTerm
    from tests.stories.old_layout import downgrade_story_index

    url = postgres.create_database("stories_old_layout")
    store = open_store(url)
    try:
        seeds, _ = read_seeds(ROOT / "seeds")
        upsert_items(store, seeds)
        first = assign_stories(store, [a.item_id for a in seeds])
        with store.session() as s:
            counts = [s.scalar(select(func.count()).select_from(t)) for t in (StoryBand, StoryTerm)]
            downgrade_story_index(s, store.dialect)
    finally:
        store.close()
    store = open_store(url)
    try:
        copy = Article(
            key="copy:002",
            source="Copier",
            source_kind="feed",
            url="https://copies.example/002",
            title=seeds[2].title,
            text=seeds[2].text,
        )
        upsert_items(store, [copy])
        assert assign_stories(store, [copy.item_id])[copy.item_id] == first[seeds[2].item_id]
        assert "period" in {c["name"] for c in inspect(store.engine).get_columns("story_bands")}
        with store.session() as s:
            rebuilt = [
                s.scalar(select(func.count()).select_from(t).where(t.item_id != copy.item_id))
                for t in (StoryBand, StoryTerm)
            ]
        assert rebuilt == counts and all(counts)
    finally:
        store.close()
