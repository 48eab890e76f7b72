"""Story assignment on a real PostgreSQL: the same grouping, index and idempotence as on SQLite."""

from __future__ import annotations

from tests.service.harness import ROOT

from tests.pgcluster import Cluster

from flows.models import Article
from flows.sources.seeds import read_seeds
from flows.store import open_store
from flows.store.items import upsert_items
from flows.stories import assign_stories, get_story, story_sources


def test_seed_stories_on_postgres(postgres: Cluster):
    store = open_store(postgres.create_database("stories_pg"))
    try:
        seeds, errors = read_seeds(ROOT / "seeds")
        assert not errors
        copy = Article(key="copy:002", source="Copier", source_kind="feed", url="https://copies.example/002",
                       title=seeds[2].title, text=seeds[2].text)
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
