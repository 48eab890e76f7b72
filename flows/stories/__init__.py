"""Stories: one story once, however many outlets and rewrites carry it.

The pipeline calls `assign_stories(store, item_ids)` after storing new items; it sets
`items.story_id` and keeps the `stories` rows (representative, first/last seen, item count) up
to date. `story_sources` lists a story's items for the digest's "N sources" line.
"""

from __future__ import annotations

from flows.store import Store
from flows.store.stories import StoryRow, StorySource, get_story, story_sources
from flows.stories.cluster import assign


def assign_stories(store: Store, item_ids: list[str]) -> dict[str, str]:
    """Assign stored items to stories (idempotent); returns item id -> story id."""
    return assign(store, item_ids)


__all__ = ["StoryRow", "StorySource", "assign_stories", "get_story", "story_sources"]
