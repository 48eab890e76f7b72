"""The labelled pairs, judged by what assign_stories actually does over the whole corpus.

All 4,490 NYT items and the five seeds go through the real pipeline (store, persistent index,
candidate lookup, verdict) in batches; a pair counts as "same story" when both items end with
the same story id. This is stricter than judging pairs one by one: candidates must be found, and
grouping is transitive.
"""

from __future__ import annotations

import pytest
from pairset import load_items, load_pairs, score
from test_rewrite import PRECISION_TARGET, RECALL_TARGET

from flows.records import Article
from flows.store.items import upsert_items
from flows.stories import assign_stories

BATCH = 500


@pytest.mark.usefixtures("corpus_available")
def test_pair_set_precision_and_recall_end_to_end(store):
    items = load_items()
    articles = {
        key: Article(
            key=key,
            source="seeds" if key.startswith("seed:") else "NYT",
            source_kind="feed",
            url=key,
            title=it.title,
            text=it.text,
            published=it.published,
        )
        for key, it in items.items()
    }
    upsert_items(store, articles.values())
    ordered = sorted(articles, key=lambda k: (items[k].published, k))
    story_of: dict[str, str] = {}
    for start in range(0, len(ordered), BATCH):
        keys = ordered[start : start + BATCH]
        assigned = assign_stories(store, [articles[k].item_id for k in keys])
        story_of.update({k: assigned[articles[k].item_id] for k in keys})

    scores, wrong = score(load_pairs(), lambda p: story_of[p.a] == story_of[p.b])
    print(f"\nassign_stories over {len(items)} items, {len(set(story_of.values()))} stories; labelled pairs: {scores}")
    assert scores.precision >= PRECISION_TARGET, wrong
    assert scores.recall >= RECALL_TARGET, wrong
    seeds = sorted(k for k in items if k.startswith("seed:"))
    assert story_of[seeds[0]] == story_of[seeds[2]]
    assert len({story_of[k] for k in seeds}) == 4
