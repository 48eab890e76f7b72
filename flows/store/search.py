"""Full-text search over every stored item: the SQL behind `flows.search`.

SQLite: an FTS5 table `items_fts` over the items' title and text (external content: the text is
not stored twice), kept in step by triggers on `items` — every insert, text update and delete
the store makes, whichever function makes it — and filled from the items already there the first
time a store is opened with it (an upgrade). Ranked by BM25 with the title weighing ten times the
body; Porter stems, so "sanction" finds "sanctions".

PostgreSQL: a generated `tsvector` column on `items` (title weight A, text B) with a GIN index;
PostgreSQL computes it on every write and, when the column is added to a store that has items,
for all of them. Ranked by `ts_rank`, snippets by `ts_headline`.

Both return snippets with the matched words between `MARK_START` and `MARK_END` (control
characters no text contains); `flows.search` escapes the text and only then turns those into
<mark>, so nothing from a feed reaches a page unescaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import DateTime, bindparam, inspect, text
from sqlalchemy.engine import Connection

from flows.search.query import Query, Term
from flows.search.sides import countries_for, fragments_for
from flows.store.db import Store
from flows.store.items import as_utc

MARK_START, MARK_END = "\x02", "\x03"
TITLE_WEIGHT, TEXT_WEIGHT = 10.0, 1.0
SNIPPET_TOKENS = 28
PG_TEXT_CHARS = 300_000      # a tsvector holds at most 1 MB: index the first 300,000 characters

_SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS items_fts USING fts5(title, text, content='items', "
    "content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS items_fts_insert AFTER INSERT ON items BEGIN "
    "INSERT INTO items_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS items_fts_delete AFTER DELETE ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS items_fts_update AFTER UPDATE OF title, text ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text); "
    "INSERT INTO items_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text); END",
]

_PG_COLUMN = (
    "ALTER TABLE items ADD COLUMN IF NOT EXISTS search_tsv tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    f"setweight(to_tsvector('english'::regconfig, left(coalesce(text, ''), {PG_TEXT_CHARS})), 'B')) STORED"
)
_PG_INDEX = "CREATE INDEX IF NOT EXISTS ix_items_search_tsv ON items USING gin (search_tsv)"


def ensure_search_index(conn: Connection) -> bool:
    """Create the full-text index if the store lacks it, filling it from the stored items.

    Called by `create_tables` on every open, inside its transaction (on PostgreSQL under its
    advisory lock), so a store made before search gets the index the first time it is opened.
    Returns True when the index was created now.
    """
    dialect = conn.dialect.name
    if dialect == "sqlite":
        exists = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items_fts'").first() is not None
        for ddl in _SQLITE_DDL:
            conn.exec_driver_sql(ddl)
        if not exists:
            conn.exec_driver_sql(f"INSERT INTO items_fts(items_fts, rank) VALUES ('rank', "
                                 f"'bm25({TITLE_WEIGHT}, {TEXT_WEIGHT})')")
            conn.exec_driver_sql("INSERT INTO items_fts(items_fts) VALUES ('rebuild')")   # the backfill
        return not exists
    if dialect == "postgresql":
        columns = {c["name"] for c in inspect(conn).get_columns("items")}
        if "search_tsv" not in columns:
            conn.exec_driver_sql(_PG_COLUMN)     # computed for every stored row as it is added
        conn.exec_driver_sql(_PG_INDEX)
        return "search_tsv" not in columns
    return False


def rebuild_search_index(store: Store) -> None:
    """Re-fill the index from the items table (after a SQLite `VACUUM`, which may renumber the
    rowids the index points at; PostgreSQL's column never needs it)."""
    if store.dialect == "sqlite":
        with store.session() as s:
            s.connection().exec_driver_sql("INSERT INTO items_fts(items_fts) VALUES ('rebuild')")


@dataclass(frozen=True)
class ItemHit:
    item_id: str
    story_id: str | None
    title: str
    source: str
    url: str
    published: datetime | None
    first_seen: datetime
    rank: float                 # higher is better
    title_marked: str           # the title, matches between MARK_START and MARK_END
    snippet_marked: str         # a passage of the text, marked the same way


# ------------------------------------------------------------------ query translation


def _fts5_term(term: Term) -> str:
    quoted = '"' + term.text.replace('"', '""') + '"'
    return quoted + ("*" if term.prefix else "")


def fts5_expression(terms: list[list[Term]], exclude: list[Term]) -> str | None:
    """The FTS5 MATCH expression of a query's words: each term a quoted string (so no user text
    is read as FTS syntax), groups ANDed, exclusions NOTed."""
    groups = ["(" + " OR ".join(_fts5_term(t) for t in group) + ")" for group in terms]
    if not groups:
        return None
    expr = " AND ".join(groups)
    if exclude:
        expr = f"({expr}) NOT (" + " OR ".join(_fts5_term(t) for t in exclude) + ")"
    return expr


def _pg_term(term: Term, params: dict) -> str:
    name = f"t{len(params)}"
    if term.prefix:
        params[name] = "".join(term.words[:1]) + ":*"
        return f"to_tsquery('english', :{name})"
    params[name] = term.text
    return f"{'phraseto_tsquery' if term.phrase else 'plainto_tsquery'}('english', :{name})"


def pg_tsquery(terms: list[list[Term]], exclude: list[Term], params: dict) -> str | None:
    """A tsquery built from bound parameters (each term through plainto/phraseto_tsquery)."""
    if not terms:
        return None
    expr = " && ".join("(" + " || ".join(_pg_term(t, params) for t in group) + ")" for group in terms)
    if exclude:
        expr = f"({expr}) && !!(" + " || ".join(_pg_term(t, params) for t in exclude) + ")"
    return expr


def _columns(store: Store) -> frozenset[str]:
    """The items table's columns (read once per store): which side data it carries."""
    cached = getattr(store, "_item_columns", None)
    if cached is None:
        cached = frozenset(c["name"] for c in inspect(store.engine).get_columns("items"))
        store._item_columns = cached
    return cached


def _filters(store: Store, q: Query, params: dict, alias: str = "i") -> list[str]:
    """SQL conditions (bound parameters only) for the query's filters on the items table `alias`."""
    where: list[str] = []
    if q.since is not None:
        params["since"] = q.since.astimezone(timezone.utc)
        where.append(f"coalesce({alias}.published, {alias}.first_seen) >= :since")
    if q.until is not None:
        params["until"] = q.until.astimezone(timezone.utc)
        where.append(f"coalesce({alias}.published, {alias}.first_seen) < :until")
    if q.stories:
        names = [f"story{n}" for n in range(len(q.stories))]
        params.update(zip(names, q.stories))
        where.append(f"{alias}.story_id IN ({', '.join(':' + n for n in names)})")
    for n, issue in enumerate(q.issues):
        params[f"issue{n}"] = issue
        where.append(f"EXISTS (SELECT 1 FROM item_issues l WHERE l.item_id = {alias}.id AND l.issue_id = :issue{n})")
    if q.sources:
        ors = []
        for n, source in enumerate(q.sources):
            params[f"source{n}"] = f"%{_like_escape(source.lower())}%"
            ors.append(f"lower({alias}.source) LIKE :source{n} ESCAPE '\\' "
                       f"OR lower({alias}.url) LIKE :source{n} ESCAPE '\\'")
        where.append("(" + " OR ".join(ors) + ")")
    if q.sides:
        where.append("(" + " OR ".join(_side_condition(store, side, params, alias) for side in q.sides) + ")")
    return where


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _side_condition(store: Store, side: str, params: dict, alias: str) -> str:
    """An item's side: its own `side` column, else its outlet's `country`, else the domain/name
    mapping of `flows.search.sides` ("other": on neither side)."""
    columns = _columns(store)
    if "side" in columns:
        params[f"side_{side}"] = side
        return f"lower({alias}.side) = :side_{side}"
    if side == "other":
        named = [_side_condition(store, s, params, alias) for s in ("china", "us")]
        return "NOT (" + " OR ".join(f"coalesce({c}, false)" for c in named) + ")"
    if "country" in columns:
        codes = countries_for(side)
        names = [f"country_{side}{n}" for n in range(len(codes))]
        params.update(zip(names, codes))
        return f"lower({alias}.country) IN ({', '.join(':' + n for n in names)})"
    ors = []
    for n, fragment in enumerate(fragments_for(side)):
        key = f"side_{side}{n}"
        params[key] = f"%{_like_escape(fragment)}%"
        ors.append(f"lower({alias}.url) LIKE :{key} ESCAPE '\\' OR lower({alias}.source) LIKE :{key} ESCAPE '\\'")
    return "(" + " OR ".join(ors) + ")"


# ------------------------------------------------------------------ search


def search_items(store: Store, q: Query, limit: int = 200) -> list[ItemHit]:
    """The best `limit` items for a query, best first; with no words, the newest matching ones."""
    if store.dialect == "postgresql":
        return _search_pg(store, q, limit)
    return _search_sqlite(store, q, limit)


def _when(value) -> datetime | None:
    """A time read through raw SQL: SQLite hands back its stored text, PostgreSQL a datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value)


def _sql(sql: str, params: dict):
    """A text statement whose time parameters go through the store's own DateTime conversion
    (SQLite stores UTC times as text without an offset, and compares them as text)."""
    times = [bindparam(k, type_=DateTime(timezone=True)) for k in ("since", "until") if k in params]
    return text(sql).bindparams(*times)


def _hit(row, rank: float, title_marked: str | None, snippet_marked: str | None) -> ItemHit:
    return ItemHit(row.id, row.story_id, row.title or "", row.source or "", row.url or "",
                   None if row.undated else _when(row.published), _when(row.first_seen), rank,
                   title_marked if title_marked is not None else (row.title or ""),
                   snippet_marked if snippet_marked is not None else _lead(row.text or ""))


def _lead(body: str, words: int = SNIPPET_TOKENS) -> str:
    parts = body.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


_ROW = "i.id, i.story_id, i.title, i.source, i.url, i.published, i.undated, i.first_seen"


def _newest(store: Store, conn, q: Query, limit: int, params: dict, where: list[str]) -> list[ItemHit]:
    params["limit"] = limit
    sql = (f"SELECT {_ROW}, i.text FROM items i {'WHERE ' + ' AND '.join(where) if where else ''} "
           "ORDER BY coalesce(i.published, i.first_seen) DESC, i.id LIMIT :limit")
    return [_hit(r, 0.0, None, None) for r in conn.execute(_sql(sql, params), params)]


def _search_sqlite(store: Store, q: Query, limit: int) -> list[ItemHit]:
    params: dict = {}
    where = _filters(store, q, params)
    expr = fts5_expression(q.groups, q.exclude)
    with store.session() as s:
        conn = s.connection()
        if expr is None:
            if q.exclude:
                params["exclude"] = fts5_expression([q.exclude], [])
                where.append("i.rowid NOT IN (SELECT rowid FROM items_fts WHERE items_fts MATCH :exclude)")
            return _newest(store, conn, q, limit, params, where)
        params.update(match=expr, limit=limit)
        # First the best rowids (rank only), then snippets for those alone: snippet() on every
        # match before the sort would cost more than the search.
        top = conn.execute(_sql(
            "SELECT f.rowid AS rid, f.rank AS rank FROM items_fts f "
            + (f"JOIN items i ON i.rowid = f.rowid " if where else "")
            + "WHERE items_fts MATCH :match " + "".join(f"AND {w} " for w in where)
            + "ORDER BY f.rank LIMIT :limit", params), params).all()
        if not top:
            return []
        ranks = {r.rid: -r.rank for r in top}          # bm25 is lower-is-better
        marks = {"ms": MARK_START, "me": MARK_END, "match": expr}
        rows = conn.execute(text(
            f"SELECT f.rowid AS rid, {_ROW}, i.text, highlight(items_fts, 0, :ms, :me) AS hl, "
            f"snippet(items_fts, 1, :ms, :me, ' … ', {SNIPPET_TOKENS}) AS snip "
            "FROM items_fts f JOIN items i ON i.rowid = f.rowid "
            f"WHERE items_fts MATCH :match AND f.rowid IN ({', '.join(str(int(r)) for r in ranks)})"), marks).all()
    hits = [_hit(r, ranks[r.rid], r.hl, r.snip if MARK_START in (r.snip or "") else None) for r in rows]
    hits.sort(key=lambda h: (-h.rank, h.item_id))
    return hits


def _search_pg(store: Store, q: Query, limit: int) -> list[ItemHit]:
    params: dict = {}
    where = _filters(store, q, params)
    tsq = pg_tsquery(q.groups, q.exclude, params)
    with store.session() as s:
        conn = s.connection()
        if tsq is None:
            if q.exclude:
                ex = pg_tsquery([q.exclude], [], params)
                where.append(f"NOT (i.search_tsv @@ ({ex}))")
            return _newest(store, conn, q, limit, params, where)
        params.update(limit=limit, opts=f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_TOKENS}, "
                                        "MinWords=12, MaxFragments=2, FragmentDelimiter=\" … \"",
                      topts=f"StartSel={MARK_START}, StopSel={MARK_END}, HighlightAll=true")
        sql = (f"WITH q AS (SELECT {tsq} AS query), top AS ("
               f"SELECT {_ROW}, i.text, ts_rank(i.search_tsv, q.query) AS rank FROM items i, q "
               "WHERE i.search_tsv @@ q.query " + "".join(f"AND {w} " for w in where)
               + "ORDER BY rank DESC, i.id LIMIT :limit) "
               "SELECT top.*, ts_headline('english', coalesce(top.title, ''), q.query, :topts) AS hl, "
               f"ts_headline('english', left(coalesce(top.text, ''), {PG_TEXT_CHARS}), q.query, :opts) AS snip "
               "FROM top, q ORDER BY top.rank DESC, top.id")
        rows = conn.execute(_sql(sql, params), params).all()
    return [_hit(r, float(r.rank), r.hl, r.snip if MARK_START in (r.snip or "") else None) for r in rows]


@dataclass(frozen=True)
class StoryInfo:
    id: str
    title: str
    n_items: int
    first_seen: datetime
    last_seen: datetime


def stories_info(store: Store, story_ids: list[str]) -> dict[str, StoryInfo]:
    """Title, size and first/last seen of these stories (one query per 500)."""
    from sqlalchemy import select

    from flows.store.schema import Story

    out: dict[str, StoryInfo] = {}
    with store.session() as s:
        for start in range(0, len(story_ids), 500):
            chunk = story_ids[start:start + 500]
            for r in s.execute(select(Story.id, Story.title, Story.n_items, Story.first_seen, Story.last_seen)
                               .where(Story.id.in_(chunk))):
                out[r.id] = StoryInfo(r.id, r.title or "", r.n_items, as_utc(r.first_seen), as_utc(r.last_seen))
    return out
