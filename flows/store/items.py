"""Items and their labels: idempotent writes, reads for classification, digests and export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator, Sequence

from sqlalchemy import delete, func, select

from flows.records import Article, Classification, content_hash
from flows.store.db import Store, with_retries
from flows.store.schema import Correction, Item, ItemIssue


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything the store hands out is aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@dataclass
class UpsertResult:
    new_ids: list[str]
    seen_ids: list[str]


def text_columns(text: str) -> dict:
    """The columns that follow from an item's text: the text, its word count and content hash."""
    return {"text": text, "word_count": len(text.split()), "content_hash": content_hash(text)}


def article_row(article: Article, first_seen: datetime) -> dict:
    published = as_utc(article.published)
    return {
        "id": article.item_id,
        "key": article.key,
        "source": article.source[:300],
        "source_kind": article.source_kind,
        "feed_url": article.feed_url,
        "url": article.url,
        "guid": article.guid,
        "title": article.title,
        "summary_html": article.summary_html,
        "published": published or first_seen,
        "undated": published is None,
        "first_seen": first_seen,
        "language": article.language,
        "author": article.author,
        "site_name": article.site_name,
        "extraction": article.extraction,
        "extraction_note": article.extraction_note,
        **text_columns(article.text),
    }


def upsert_items(store: Store, articles: Iterable[Article], now: datetime | None = None) -> UpsertResult:
    """Store articles not seen before; leave known ones untouched.

    `INSERT … ON CONFLICT DO NOTHING` on the primary key makes this idempotent and safe with
    concurrent writers (two ingests on PostgreSQL never duplicate or lose an item), and so safe
    to run again while the store is busy or restarting.
    """
    batch = list(articles)
    return with_retries(lambda: _upsert_items_once(store, batch, now), "storing items", store)


def _upsert_items_once(store: Store, articles: list[Article], now: datetime | None) -> UpsertResult:
    now = now or utcnow()
    by_id: dict[str, Article] = {}
    for article in articles:
        by_id.setdefault(article.item_id, article)
    if not by_id:
        return UpsertResult([], [])
    table = Item.__table__
    # One multi-row statement (Core, not the ORM: a tenth of the CPU per item). RETURNING names the
    # rows it inserted; a rowcount would not do, as PostgreSQL reports none for such inserts.
    stmt = store.insert(table).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
    with store.session() as s:
        inserted = set(s.connection().execute(stmt, [article_row(a, now) for a in by_id.values()]).scalars())
    return UpsertResult([i for i in by_id if i in inserted], [i for i in by_id if i not in inserted])


def known_ids(store: Store, ids: Sequence[str]) -> set[str]:
    """Which of these ids are already stored (so callers can skip fetching their pages)."""
    found: set[str] = set()
    with store.session() as s:
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            found.update(s.scalars(select(Item.id).where(Item.id.in_(chunk))))
    return found


def items_to_classify(store: Store, classifier_version: str, all_items: bool = False) -> list[Item]:
    """Items never classified, or classified by another classifier version."""
    with store.session() as s:
        q = select(Item)
        if not all_items:
            q = q.where((Item.classifier_version.is_(None)) | (Item.classifier_version != classifier_version))
        return list(s.scalars(q.order_by(Item.first_seen, Item.id)))


def save_classifications(store: Store, results: Iterable[tuple[str, Classification]], classifier_version: str) -> int:
    """Replace the model's labels of these items; analysts' corrections are re-applied on top.

    The results are all computed before the write transaction opens (classifying inside it
    would hold the store's write lock for the whole run), and the write is retried while the
    store is busy or restarting.
    """
    batch = list(results)
    return with_retries(
        lambda: _save_classifications_once(store, batch, classifier_version), "saving classifications", store
    )


def _save_classifications_once(store: Store, results: list[tuple[str, Classification]], classifier_version: str) -> int:
    now = utcnow()
    count = 0
    with store.session() as s:
        for item_id, result in results:
            item = s.get(Item, item_id)
            if item is None:
                continue
            item.relevant = result.relevant
            item.relevance = result.relevance
            item.classified_at = now
            item.classifier_version = classifier_version
            s.execute(delete(ItemIssue).where(ItemIssue.item_id == item_id))
            for label in result.issues:
                s.add(
                    ItemIssue(
                        item_id=item_id,
                        issue_id=label.id,
                        score=label.score,
                        evidence=[e.to_dict() for e in label.evidence],
                        origin="model",
                    )
                )
            s.flush()
            _apply_corrections(s, item)
            count += 1
    return count


def _apply_corrections(s, item: Item) -> None:
    """Apply an item's corrections in order: the latest word of an analyst wins."""
    corrections = s.scalars(select(Correction).where(Correction.item_id == item.id).order_by(Correction.id)).all()
    for c in corrections:
        if c.issue_id == "relevant":
            item.relevant = c.action == "add"
            continue
        existing = s.get(ItemIssue, (item.id, c.issue_id))
        if c.action == "remove":
            if existing is not None:
                s.delete(existing)
        elif existing is None:
            s.add(ItemIssue(item_id=item.id, issue_id=c.issue_id, score=1.0, evidence=[], origin="correction"))
            item.relevant = True
        else:
            existing.origin = "correction"
        s.flush()


def add_correction(store: Store, item_id: str, issue_id: str, action: str, note: str | None = None) -> None:
    """Record an analyst's correction and apply it to the item at once."""
    if action not in ("add", "remove"):
        raise ValueError("action must be 'add' or 'remove'")
    with store.session() as s:
        item = s.get(Item, item_id)
        if item is None:
            raise KeyError(item_id)
        s.add(Correction(item_id=item_id, issue_id=issue_id, action=action, created_at=utcnow(), note=note))
        s.flush()
        _apply_corrections(s, item)


def corrections(store: Store) -> list[Correction]:
    with store.session() as s:
        return list(s.scalars(select(Correction).order_by(Correction.id)))


def labels_for(store: Store, item_ids: Sequence[str]) -> dict[str, list[ItemIssue]]:
    out: dict[str, list[ItemIssue]] = {i: [] for i in item_ids}
    with store.session() as s:
        for start in range(0, len(item_ids), 500):
            chunk = list(item_ids[start : start + 500])
            for row in s.scalars(select(ItemIssue).where(ItemIssue.item_id.in_(chunk))):
                out[row.item_id].append(row)
    for rows in out.values():
        rows.sort(key=lambda r: -r.score)
    return out


def get_item(store: Store, item_id: str) -> Item | None:
    with store.session() as s:
        return s.get(Item, item_id)


def iter_items(store: Store, batch: int = 500) -> Iterator[Item]:
    """Every item, oldest first, in batches (export of a large store stays in bounded memory)."""
    last: tuple | None = None
    while True:
        with store.session() as s:
            q = select(Item).order_by(Item.first_seen, Item.id).limit(batch)
            if last is not None:
                q = q.where((Item.first_seen > last[0]) | ((Item.first_seen == last[0]) & (Item.id > last[1])))
            rows = list(s.scalars(q))
        if not rows:
            return
        yield from rows
        last = (rows[-1].first_seen, rows[-1].id)


def count_items(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(Item)) or 0
