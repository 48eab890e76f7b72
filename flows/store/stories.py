"""Stories and their persistent matching index: the SQL behind `flows.stories`.

Four small tables keep the index (see schema.py): fingerprints (one per assigned item), exact
keys, MinHash LSH bands and day-bucketed salient terms. Every lookup is an indexed probe, so
assigning a new item costs the same whether the store holds a thousand items or a million.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Iterator, Sequence

from sqlalchemy import bindparam, inspect, select

from flows.store.db import Store
from flows.store.items import as_utc
from flows.store.schema import Item, Story, StoryBand, StoryFingerprint, StoryKey, StoryTerm

CHUNK = 500
PERIOD_DAYS = 16  # postings are clustered by period: a batch's inserts land in one small region


def _chunks(values: Sequence, size: int = CHUNK) -> Iterator[list]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass(frozen=True)
class ItemForStory:
    """The columns of an item that story assignment reads."""

    id: str
    title: str
    text: str
    url: str
    guid: str | None
    feed_url: str | None
    content_hash: str
    word_count: int
    at: datetime  # published, else first seen
    assigned_story: str | None  # set when the item already has a fingerprint


@dataclass(frozen=True)
class IndexedItem:
    """An assigned item as the index returns it."""

    item_id: str
    story_id: str
    at: datetime
    data: bytes
    feed_url: str | None


@dataclass(frozen=True)
class NewAssignment:
    item_id: str
    story_id: str
    at: datetime
    day: int
    data: bytes  # the fingerprint; empty for an exact copy, which is not indexed for matching
    keys: list[str]
    bands: list[int]
    terms: list[str]


@dataclass(frozen=True)
class StorySource:
    """One item of a story, as the digest lists its sources."""

    item_id: str
    source: str
    title: str
    url: str
    published: datetime | None
    first_seen: datetime
    is_representative: bool


@dataclass(frozen=True)
class StoryRow:
    id: str
    representative_id: str
    title: str
    first_seen: datetime
    last_seen: datetime
    n_items: int


def items_for_story(store: Store, item_ids: Sequence[str]) -> list[ItemForStory]:
    """The stored items among these ids, with their story if they were assigned before."""
    out: list[ItemForStory] = []
    with store.session() as s:
        for chunk in _chunks(dict.fromkeys(item_ids)):
            q = (
                select(
                    Item.id,
                    Item.title,
                    Item.text,
                    Item.url,
                    Item.guid,
                    Item.feed_url,
                    Item.content_hash,
                    Item.word_count,
                    Item.published,
                    Item.first_seen,
                    StoryFingerprint.story_id,
                )
                .outerjoin(StoryFingerprint, StoryFingerprint.item_id == Item.id)
                .where(Item.id.in_(chunk))
            )
            for row in s.execute(q):
                at = as_utc(row.published) or as_utc(row.first_seen)
                out.append(
                    ItemForStory(
                        row.id,
                        row.title or "",
                        row.text or "",
                        row.url or "",
                        row.guid,
                        row.feed_url,
                        row.content_hash,
                        row.word_count or 0,
                        at,
                        row.story_id,
                    )
                )
    return out


def unassigned_item_ids(store: Store, limit: int) -> list[str]:
    """Items stored but not yet assigned to a story, oldest first (for catching up after a crash)."""
    with store.session() as s:
        q = (
            select(Item.id)
            .outerjoin(StoryFingerprint, StoryFingerprint.item_id == Item.id)
            .where(StoryFingerprint.item_id.is_(None))
            .order_by(Item.first_seen, Item.id)
            .limit(limit)
        )
        return list(s.scalars(q))


def stories_for_keys(store: Store, keys: Iterable[str]) -> dict[str, str]:
    """key -> story id, for exact keys already in the index."""
    out: dict[str, str] = {}
    with store.session() as s:
        for chunk in _chunks(set(keys)):
            q = (
                select(StoryKey.key, StoryFingerprint.story_id)
                .join(StoryFingerprint, StoryFingerprint.item_id == StoryKey.item_id)
                .where(StoryKey.key.in_(chunk))
            )
            out.update({k: sid for k, sid in s.execute(q)})
    return out


# The index tables are probed and filled tens of thousands of rows per batch; their SQL is
# written out and run through the driver, which costs a fifth of what the ORM/Core layer adds per
# row. Both SQLite (3.24+) and PostgreSQL read it; only the placeholder differs.
def _placeholder(store: Store) -> str:
    return "?" if store.dialect == "sqlite" else "%s"


def _postings(store: Store, table: str, column: str, keys: Iterable, first_day: int, last_day: int) -> list[tuple]:
    """(key, day, item id) rows of an index table for these keys between two day numbers (inclusive)."""
    mark = _placeholder(store)
    periods = list(range(first_day // PERIOD_DAYS, last_day // PERIOD_DAYS + 1))
    out: list[tuple] = []
    with store.session() as s:
        conn = s.connection()
        for chunk in _chunks(set(keys)):
            sql = (
                f"SELECT {column}, day, item_id FROM {table} WHERE period IN ({', '.join([mark] * len(periods))}) "
                f"AND {column} IN ({', '.join([mark] * len(chunk))}) AND day >= {mark} AND day <= {mark}"
            )
            out.extend(conn.exec_driver_sql(sql, (*periods, *chunk, first_day, last_day)).fetchall())
    return out


def items_for_bands(store: Store, bands: Iterable[int], first_day: int, last_day: int) -> list[tuple[int, int, str]]:
    """(band, day, item id) of assigned items with these LSH bands between two day numbers."""
    return _postings(store, StoryBand.__tablename__, "band", bands, first_day, last_day)


def items_for_terms(store: Store, terms: Iterable[str], first_day: int, last_day: int) -> list[tuple[str, int, str]]:
    """(term, day, item id) postings of these terms between two day numbers (inclusive)."""
    return _postings(store, StoryTerm.__tablename__, "term", terms, first_day, last_day)


def _insert_rows(store: Store, conn, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert rows into an index table, skipping those already there (a re-run adds nothing)."""
    if rows:
        mark = _placeholder(store)
        conn.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
            "ON CONFLICT DO NOTHING",
            rows,
        )


def _insert_postings(store: Store, conn, postings: Iterable[tuple[str, int, Iterable[int], Iterable[str]]]) -> None:
    """File items in the band and term tables: (item id, day, bands, salient terms) each, keyed by
    period first (see `PERIOD_DAYS`)."""
    bands, terms = [], []
    for item_id, day, item_bands, item_terms in postings:
        period = day // PERIOD_DAYS
        bands += [(period, b, day, item_id) for b in set(item_bands)]
        terms += [(period, t, day, item_id) for t in set(item_terms)]
    _insert_rows(store, conn, StoryBand.__tablename__, ("period", "band", "day", "item_id"), bands)
    _insert_rows(store, conn, StoryTerm.__tablename__, ("period", "term", "day", "item_id"), terms)


def postings_outdated(store: Store) -> bool:
    """Whether the band and term tables predate their `period` column (stores made before it).

    Postings were once keyed by band (or term) first, so each batch's inserts landed all over the
    table and every commit rewrote most of its pages; keyed by period first they land together.
    """
    inspector = inspect(store.engine)
    return any(
        "period" not in {c["name"] for c in inspector.get_columns(table.__tablename__)}
        for table in (StoryBand, StoryTerm)
    )


def rebuild_postings(store: Store, derive: Callable[[bytes], tuple[list[int], list[str]]]) -> int:
    """Recreate the band and term tables in the current layout and refill them from the stored
    fingerprints, `derive` giving an item's (bands, terms) from its fingerprint bytes.

    One transaction, so a store is never left half-indexed; returns the number of items indexed.
    """
    done = 0
    with store.session() as s:
        conn = s.connection()
        for table in (StoryBand.__table__, StoryTerm.__table__):
            table.drop(conn, checkfirst=True)
            table.create(conn)
        ids = list(conn.execute(select(StoryFingerprint.item_id).where(StoryFingerprint.data != b"")).scalars())
        for chunk in _chunks(ids):
            rows = conn.execute(
                select(StoryFingerprint.item_id, StoryFingerprint.day, StoryFingerprint.data).where(
                    StoryFingerprint.item_id.in_(chunk)
                )
            ).all()
            _insert_postings(store, conn, ((item_id, day, *derive(data)) for item_id, day, data in rows))
            done += len(rows)
    return done


def indexed_items(store: Store, item_ids: Iterable[str]) -> dict[str, IndexedItem]:
    out: dict[str, IndexedItem] = {}
    with store.session() as s:
        for chunk in _chunks(set(item_ids)):
            q = (
                select(
                    StoryFingerprint.item_id,
                    StoryFingerprint.story_id,
                    StoryFingerprint.at,
                    StoryFingerprint.data,
                    Item.feed_url,
                )
                .join(Item, Item.id == StoryFingerprint.item_id)
                .where(StoryFingerprint.item_id.in_(chunk))
            )
            for row in s.execute(q):
                out[row.item_id] = IndexedItem(row.item_id, row.story_id, as_utc(row.at), row.data, row.feed_url)
    return out


def save_assignments(store: Store, assignments: Sequence[NewAssignment]) -> None:
    """Record new items' stories and index entries, and refresh the stories they touch.

    One transaction: either the whole batch is assigned and indexed, or none of it. Inserts skip
    rows that exist, so a batch interrupted and re-run leaves the same state.
    """
    if not assignments:
        return
    with store.session() as s:
        conn = s.connection()  # Core executemany: the ORM's per-row bookkeeping costs more than the SQL
        conn.execute(
            store.insert(StoryFingerprint.__table__).on_conflict_do_nothing(index_elements=["item_id"]),
            [
                {"item_id": a.item_id, "story_id": a.story_id, "at": a.at, "day": a.day, "data": a.data}
                for a in assignments
            ],
        )
        first_holder = {k: a.item_id for a in reversed(assignments) for k in a.keys}
        _insert_rows(store, conn, StoryKey.__tablename__, ("key", "item_id"), list(first_holder.items()))
        _insert_postings(store, conn, ((a.item_id, a.day, a.bands, a.terms) for a in assignments))
        items = Item.__table__
        conn.execute(
            items.update().where(items.c.id == bindparam("item_key")).values(story_id=bindparam("story_key")),
            [{"item_key": a.item_id, "story_key": a.story_id} for a in assignments],
        )
        _refresh_stories(store, conn, {a.story_id for a in assignments})


def _refresh_stories(store: Store, conn, story_ids: set[str]) -> None:
    """Recompute each touched story from its items: count, first/last seen, representative.

    The representative is the fullest telling (most words); among equals the earliest published,
    so an original outranks a shorter rewrite or a truncated feed copy.
    """
    members: dict[str, list] = {}
    for chunk in _chunks(sorted(story_ids)):
        q = select(Item.story_id, Item.id, Item.title, Item.word_count, Item.published, Item.first_seen).where(
            Item.story_id.in_(chunk)
        )
        for row in conn.execute(q):
            members.setdefault(row.story_id, []).append(row)
    rows = []
    for story_id, items in members.items():
        rep = min(items, key=lambda r: (-(r.word_count or 0), as_utc(r.published) or as_utc(r.first_seen), r.id))
        seen = [as_utc(r.first_seen) for r in items]
        rows.append(
            {
                "id": story_id,
                "representative_id": rep.id,
                "title": rep.title or "",
                "first_seen": min(seen),
                "last_seen": max(seen),
                "n_items": len(items),
            }
        )
    if rows:
        stmt = store.insert(Story.__table__)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={
                c: getattr(stmt.excluded, c)
                for c in ("representative_id", "title", "first_seen", "last_seen", "n_items")
            },
        )
        conn.execute(stmt, rows)


def get_story(store: Store, story_id: str) -> StoryRow | None:
    with store.session() as s:
        story = s.get(Story, story_id)
        if story is None:
            return None
        return StoryRow(
            story.id,
            story.representative_id,
            story.title,
            as_utc(story.first_seen),
            as_utc(story.last_seen),
            story.n_items,
        )


def story_sources(store: Store, story_id: str) -> list[StorySource]:
    """The items of a story, representative first, then in the order they were first seen."""
    with store.session() as s:
        story = s.get(Story, story_id)
        rep_id = story.representative_id if story else None
        q = select(Item.id, Item.source, Item.title, Item.url, Item.published, Item.undated, Item.first_seen).where(
            Item.story_id == story_id
        )
        rows = list(s.execute(q))
    sources = [
        StorySource(
            r.id,
            r.source,
            r.title,
            r.url,
            None if r.undated else as_utc(r.published),
            as_utc(r.first_seen),
            r.id == rep_id,
        )
        for r in rows
    ]
    sources.sort(key=lambda x: (not x.is_representative, x.first_seen, x.item_id))
    return sources
