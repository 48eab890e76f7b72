"""Items' quotations and named actors (`item_quotes`): pending items, idempotent saves, reads."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import delete, select

from flows.store.db import Store, with_retries
from flows.store.schema import Item, ItemQuotes

CHUNK = 500


def items_without_quotes(store: Store, version: str, limit: int = 5000) -> list[tuple[str, str, str]]:
    """(id, title, text) of items whose quotes were never read, or read by another version."""
    with store.session() as s:
        q = (
            select(Item.id, Item.title, Item.text)
            .outerjoin(ItemQuotes, ItemQuotes.item_id == Item.id)
            .where((ItemQuotes.item_id.is_(None)) | (ItemQuotes.version != version))
            .order_by(Item.first_seen, Item.id)
            .limit(limit)
        )
        return [(r.id, r.title or "", r.text or "") for r in s.execute(q)]


def save_quotes(store: Store, rows: Iterable[tuple[str, list[dict], dict[str, int]]], version: str) -> int:
    """Replace these items' quotes and actors (one transaction, retried while the store is busy)."""
    batch = list(rows)

    def once() -> int:
        if not batch:
            return 0
        with store.session() as s:
            ids = [item_id for item_id, _, _ in batch]
            for start in range(0, len(ids), CHUNK):
                s.execute(delete(ItemQuotes).where(ItemQuotes.item_id.in_(ids[start : start + CHUNK])))
            s.add_all(ItemQuotes(item_id=i, version=version, quotes=q, actors=a) for i, q, a in batch)
        return len(batch)

    return with_retries(once, "saving quotes", store)


def quotes_for(store: Store, item_ids: Sequence[str]) -> dict[str, ItemQuotes]:
    out: dict[str, ItemQuotes] = {}
    with store.session() as s:
        for start in range(0, len(item_ids), CHUNK):
            for row in s.scalars(
                select(ItemQuotes).where(ItemQuotes.item_id.in_(list(item_ids[start : start + CHUNK])))
            ):
                out[row.item_id] = row
    return out


def quotes_between(store: Store, since: datetime | None, until: datetime | None) -> list[tuple[Item, ItemQuotes]]:
    """Items first seen in [since, until) with their quotes row (for `uschina-digest actors`)."""
    with store.session() as s:
        q = select(Item, ItemQuotes).join(ItemQuotes, ItemQuotes.item_id == Item.id)
        if since is not None:
            q = q.where(Item.first_seen >= since)
        if until is not None:
            q = q.where(Item.first_seen < until)
        return [(item, row) for item, row in s.execute(q.order_by(Item.first_seen, Item.id))]


def quotes_by_story(store: Store, story_ids: Sequence[str]) -> dict[str, list[dict]]:
    """story id -> the quotes of all its items (for merging speakers across a story)."""
    out: dict[str, list[dict]] = {}
    ids = [i for i in dict.fromkeys(story_ids) if i]
    with store.session() as s:
        for start in range(0, len(ids), CHUNK):
            q = (
                select(Item.story_id, ItemQuotes.quotes)
                .join(ItemQuotes, ItemQuotes.item_id == Item.id)
                .where(Item.story_id.in_(ids[start : start + CHUNK]))
            )
            for story_id, quotes in s.execute(q):
                out.setdefault(story_id, []).extend(quotes or [])
    return out
