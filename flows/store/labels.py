"""Analysts' corrections as training data, and stored texts as unlabelled data for `train`."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from flows.store.db import Store
from flows.store.items import add_correction
from flows.store.schema import Correction, Item, ItemIssue


def corrected_items(store: Store) -> list[dict]:
    """Each corrected item with its text and the net effect of its corrections, in order.

    `{"id", "title", "text", "add": [...], "remove": [...], "relevant": True|False|None}`:
    the latest word on an issue wins, like `_apply_corrections` does for the stored labels.
    """
    out: dict[str, dict] = {}
    with store.session() as s:
        rows = s.execute(
            select(Correction, Item.title, Item.text).join(Item, Item.id == Correction.item_id).order_by(Correction.id)
        ).all()
        for c, title, text in rows:
            entry = out.setdefault(
                c.item_id, {"id": c.item_id, "title": title, "text": text, "state": {}, "relevant": None}
            )
            if c.issue_id == "relevant":
                entry["relevant"] = c.action == "add"
            else:
                entry["state"][c.issue_id] = c.action
    for entry in out.values():
        state = entry.pop("state")
        entry["add"] = sorted(i for i, a in state.items() if a == "add")
        entry["remove"] = sorted(i for i, a in state.items() if a == "remove")
    return list(out.values())


def stored_texts(store: Store, limit: int | None = None) -> list[dict]:
    """Stored items as `{"id", "title", "text"}`, newest first: unlabelled data for training."""
    with store.session() as s:
        q = select(Item.id, Item.title, Item.text).order_by(Item.first_seen.desc(), Item.id)
        if limit:
            q = q.limit(limit)
        return [{"id": i, "title": t, "text": x} for i, t, x in s.execute(q)]


def current_labels(store: Store, item_id: str) -> tuple[bool | None, list[tuple[str, float, str]]]:
    """An item's relevance and its labels as (issue, score, origin), best first."""
    with store.session() as s:
        item = s.get(Item, item_id)
        if item is None:
            raise KeyError(item_id)
        rows = s.scalars(select(ItemIssue).where(ItemIssue.item_id == item_id)).all()
        return item.relevant, sorted(((r.issue_id, r.score, r.origin) for r in rows), key=lambda r: -r[1])


def record_corrections(
    store: Store, item_id: str, add: Iterable[str] = (), remove: Iterable[str] = (), note: str | None = None
) -> None:
    """Record removals then additions for one item; each applies to the stored labels at once."""
    for issue in remove:
        add_correction(store, item_id, issue, "remove", note)
    for issue in add:
        add_correction(store, item_id, issue, "add", note)
