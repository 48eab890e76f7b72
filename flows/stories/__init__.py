"""Stories: one story once, however many outlets and rewrites carry it.

The pipeline calls `assign_stories(store, item_ids)` after storing new items (or
`assign_pending(store)`, which finds them itself); it sets `items.story_id` and keeps the
`stories` rows (representative, first/last seen, item count) up to date. `story_sources` lists a
story's items for the digest's "N sources" line; `get_story` reads one story.
"""

from __future__ import annotations

from flows.store import Store
from flows.store.stories import StoryRow, StorySource, get_story, story_sources, unassigned_item_ids
from flows.stories.cluster import assign


def assign_stories(store: Store, item_ids: list[str]) -> dict[str, str]:
    """Assign stored items to stories (idempotent); returns item id -> story id."""
    return assign(store, item_ids)


def assign_pending(store: Store, batch: int = 1000) -> int:
    """Assign every stored item that has no story yet, oldest first; returns how many.

    Safe to call at any time: after an ingest, or to catch up after a run that stored items but
    stopped before assigning them.
    """
    done = 0
    while ids := unassigned_item_ids(store, batch):
        assign(store, ids)
        done += len(ids)
    return done


__all__ = ["StoryRow", "StorySource", "assign_pending", "assign_stories", "get_story", "story_sources"]
