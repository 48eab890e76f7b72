"""Stories: one story once, however many outlets and rewrites carry it.

The pipeline calls `assign_stories(store, item_ids)` after storing new items (or
`assign_pending(store)`, which finds them itself); it sets `items.story_id` and keeps the
`stories` rows (representative, first/last seen, item count) up to date. `story_sources` lists a
story's items for the digest's "N sources" line; `get_story` reads one story.

The store-facing parts are imported on first use, so `flows.stories.features` (also used by text
cleaning) stays cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flows.store import Store
    from flows.store.stories import StoryRow, StorySource


def assign_stories(store: "Store", item_ids: list[str]) -> dict[str, str]:
    """Assign stored items to stories (idempotent); returns item id -> story id."""
    from flows.stories.cluster import assign

    return assign(store, item_ids)


def assign_pending(store: "Store", batch: int = 1000) -> int:
    """Assign every stored item that has no story yet, oldest first; returns how many.

    Safe to call at any time: after an ingest, or to catch up after a run that stored items but
    stopped before assigning them.
    """
    from flows.store.stories import unassigned_item_ids
    from flows.stories.cluster import assign

    done = 0
    while ids := unassigned_item_ids(store, batch):
        assign(store, ids)
        done += len(ids)
    return done


def get_story(store: "Store", story_id: str) -> "StoryRow | None":
    """One story: representative item, title, first/last seen, number of items."""
    from flows.store.stories import get_story as read

    return read(store, story_id)


def story_sources(store: "Store", story_id: str) -> "list[StorySource]":
    """A story's items (source name, title, URL, times), representative first."""
    from flows.store.stories import story_sources as read

    return read(store, story_id)


__all__ = ["assign_pending", "assign_stories", "get_story", "story_sources"]
