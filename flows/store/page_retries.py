"""Pages that could not be had when their item was stored, tried again in later runs.

A feed entry whose page timed out, answered 5xx/429, or whose host asked us to wait is stored at
once with the feed's own text (the fallback is recorded). Its page is then tried again after
1 h, 6 h and 24 h; the first success replaces the text and sends the item back to the classifier,
and after the last failure the item keeps the feed's text for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import delete, func, select, update

from flows.store.db import Store
from flows.store.items import text_columns
from flows.store.schema import Item, PageRetry

RETRY_DELAYS = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24))  # after try 1, 2, 3


@dataclass(frozen=True)
class DuePage:
    item_id: str
    url: str
    attempts: int  # tries so far
    text: str  # the item's text now (the feed's)
    undated: bool  # the item has no publication date of its own


def schedule_page_retries(store: Store, failures: Sequence[tuple[str, str, str]], now: datetime) -> None:
    """Record (item id, page URL, why) of items stored with a temporarily unavailable page."""
    if not failures:
        return
    rows = [
        {"item_id": item_id, "url": url, "attempts": 1, "next_attempt": now + RETRY_DELAYS[0], "last_error": why[:500]}
        for item_id, url, why in failures
    ]
    with store.session() as s:
        s.connection().execute(
            store.insert(PageRetry.__table__).on_conflict_do_nothing(index_elements=["item_id"]), rows
        )


def due_page_retries(store: Store, now: datetime, limit: int) -> list[DuePage]:
    """Pages due for another try, the longest waiting first."""
    with store.session() as s:
        q = (
            select(PageRetry.item_id, PageRetry.url, PageRetry.attempts, Item.text, Item.undated)
            .join(Item, Item.id == PageRetry.item_id)
            .where(PageRetry.next_attempt <= now)
            .order_by(PageRetry.next_attempt, PageRetry.item_id)
            .limit(limit)
        )
        return [DuePage(r.item_id, r.url, r.attempts, r.text or "", bool(r.undated)) for r in s.execute(q)]


def page_retry_failed(store: Store, page: DuePage, why: str, now: datetime, temporary: bool) -> bool:
    """Record another failed try; returns True when the page is given up (the last try, or a
    failure that will not pass), and then says so in the item's extraction note."""
    attempts = page.attempts + 1
    with store.session() as s:
        if temporary and attempts <= len(RETRY_DELAYS):
            s.execute(
                update(PageRetry)
                .where(PageRetry.item_id == page.item_id)
                .values(attempts=attempts, next_attempt=now + RETRY_DELAYS[attempts - 1], last_error=why[:500])
            )
            return False
        s.execute(delete(PageRetry).where(PageRetry.item_id == page.item_id))
        s.execute(
            update(Item)
            .where(Item.id == page.item_id)
            .values(extraction_note=f"{why} (given up after {attempts} tries)"[:2000])
        )
        return True


def page_retry_succeeded(store: Store, item_id: str, text: str, values: dict[str, Any]) -> None:
    """Store the page's text (with the columns that follow from it) and metadata (`values`: item
    columns) and send the item back to the classifier; the page leaves the retry list."""
    with store.session() as s:
        s.execute(
            update(Item).where(Item.id == item_id).values(**text_columns(text), **values, classifier_version=None)
        )
        s.execute(delete(PageRetry).where(PageRetry.item_id == item_id))


def pending_page_retries(store: Store) -> int:
    """How many pages wait for another try."""
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(PageRetry)) or 0
