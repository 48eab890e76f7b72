"""Reads for digest selection: a window's relevant items, whole stories, and label rows for trends."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import select

from flows.store.db import Store
from flows.store.items import as_utc
from flows.store.schema import Item, ItemIssue, Story


def relevant_items_between(store: Store, since: datetime, until: datetime) -> list[Item]:
    """Relevant items first seen in [since, until): the news a digest window is about."""
    with store.session() as s:
        q = (
            select(Item)
            .where(Item.first_seen >= since, Item.first_seen < until, Item.relevant.is_(True))
            .order_by(Item.first_seen, Item.id)
        )
        return list(s.scalars(q))


def story_members(store: Store, story_ids: Sequence[str], until: datetime) -> dict[str, list[Item]]:
    """Every relevant item of these stories first seen before `until`, older ones included.

    A story that gains a source today is shown with all its sources, not just today's.
    """
    out: dict[str, list[Item]] = {sid: [] for sid in story_ids}
    with store.session() as s:
        for start in range(0, len(story_ids), 500):
            chunk = list(story_ids[start : start + 500])
            q = select(Item).where(Item.story_id.in_(chunk), Item.first_seen < until, Item.relevant.is_(True))
            for item in s.scalars(q):
                out[item.story_id].append(item)
    return out


def story_representatives(store: Store, story_ids: Sequence[str]) -> dict[str, str]:
    """story id -> the item chosen to represent it (from the stories table, where it exists)."""
    out: dict[str, str] = {}
    with store.session() as s:
        for start in range(0, len(story_ids), 500):
            chunk = list(story_ids[start : start + 500])
            for sid, rep in s.execute(select(Story.id, Story.representative_id).where(Story.id.in_(chunk))):
                out[sid] = rep
    return out


def label_rows_between(
    store: Store, since: datetime, until: datetime
) -> list[tuple[str, str | None, datetime, str | None, float | None]]:
    """(item id, story id, first seen, issue id, score) of relevant items in [since, until).

    One row per label, one row with issue None for an unlabelled item: enough to count stories
    per issue in each period of a trend without loading any text.
    """
    with store.session() as s:
        q = (
            select(Item.id, Item.story_id, Item.first_seen, ItemIssue.issue_id, ItemIssue.score)
            .outerjoin(ItemIssue, ItemIssue.item_id == Item.id)
            .where(Item.first_seen >= since, Item.first_seen < until, Item.relevant.is_(True))
        )
        return [(i, sid, as_utc(fs), issue, score) for i, sid, fs, issue, score in s.execute(q)]
