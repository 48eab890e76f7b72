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

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import DateTime, bindparam, inspect, text

from flows.search.query import Query, Term
from flows.search.sides import countries_for, side_of
from flows.store.db import Store
from flows.store.items import as_utc
from flows.store.search_index import PG_TEXT_CHARS

MARK_START, MARK_END = "\x02", "\x03"
SNIPPET_TOKENS = 28
RANKED_CANDIDATES = 2000  # a query matching more ranks its newest 2,000 matches (see _search_sqlite)


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
    rank: float  # higher is better
    title_marked: str  # the title, matches between MARK_START and MARK_END
    snippet_marked: str  # a passage of the text, marked the same way


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


SOURCES_TTL_S = 30.0


def source_catalogue(store: Store) -> dict[str, str]:
    """Every source name in the store with the host of one of its URLs, read from the source
    index (one probe per source) and kept for `SOURCES_TTL_S`: `source:` and `side:` become an
    indexed `source IN (…)` instead of a pattern test on every matching row."""
    cached = getattr(store, "_source_catalogue", None)
    now = time.monotonic()
    if cached is not None and now - cached[0] < SOURCES_TTL_S:
        return cached[1]
    out: dict[str, str] = {}
    with store.session() as s:
        conn = s.connection()
        names = [r[0] for r in conn.execute(text("SELECT DISTINCT source FROM items"))]
        for name in names:
            url = conn.execute(text("SELECT url FROM items WHERE source = :s LIMIT 1"), {"s": name}).scalar() or ""
            out[name] = url.split("://", 1)[-1].split("/", 1)[0].lower() if "://" in url else ""
    store._source_catalogue = (now, out)
    return out


def _in(alias_col: str, values: list[str], params: dict, prefix: str) -> str:
    if not values:
        return "1 = 0"
    names = [f"{prefix}{n}" for n in range(len(values))]
    params.update(zip(names, values))
    return f"{alias_col} IN ({', '.join(':' + n for n in names)})"


def _filters(store: Store, q: Query, params: dict, alias: str = "i") -> list[str]:
    """SQL conditions (bound parameters only) for the query's filters on the items table `alias`.

    Times are an item's publication time (`published`, which the store sets to the first-seen
    time for undated items), so the `published` index serves them.
    """
    where: list[str] = []
    if q.since is not None:
        params["since"] = q.since.astimezone(timezone.utc)
        where.append(f"{alias}.published >= :since")
    if q.until is not None:
        params["until"] = q.until.astimezone(timezone.utc)
        where.append(f"{alias}.published < :until")
    if q.stories:
        where.append(_in(f"{alias}.story_id", q.stories, params, "story"))
    for n, issue in enumerate(q.issues):
        params[f"issue{n}"] = issue
        where.append(f"EXISTS (SELECT 1 FROM item_issues l WHERE l.item_id = {alias}.id AND l.issue_id = :issue{n})")
    if q.sources or q.sides:
        catalogue = source_catalogue(store)
    if q.sources:
        wanted = [w.lower() for w in q.sources]
        names = [name for name, host in catalogue.items() if any(w in name.lower() or w in host for w in wanted)]
        where.append(_in(f"{alias}.source", names, params, "source"))
    if q.sides:
        where.append(
            "(" + " OR ".join(_side_condition(store, side, params, alias, catalogue) for side in q.sides) + ")"
        )
    return where


def _side_condition(store: Store, side: str, params: dict, alias: str, catalogue: dict[str, str]) -> str:
    """An item's side: its own `side` column, else its outlet's `country`, else the outlet
    mapping of `flows.search.sides` applied to each source's name and host."""
    columns = _columns(store)
    if "side" in columns:
        params[f"side_{side}"] = side
        return f"lower({alias}.side) = :side_{side}"
    if "country" in columns:
        if side == "other":
            codes = countries_for("china") + countries_for("us")
            return f"NOT coalesce({_in(f'lower({alias}.country)', codes, params, 'country_other')}, false)"
        return _in(f"lower({alias}.country)", countries_for(side), params, f"country_{side}")
    names = [name for name, host in catalogue.items() if side_of(name, "https://" + host) == side]
    return _in(f"{alias}.source", names, params, f"side_{side}")


# ------------------------------------------------------------------ search


def search_items(
    store: Store, q: Query, limit: int = 200, stories: int | None = None, per_story: int = 3
) -> list[ItemHit]:
    """The best `limit` items for a query, best first; with no words, the newest matching ones.

    With `stories`, only the items shown when grouped by story are returned (and given
    snippets): at most `per_story` of each of the first `stories` stories.
    """
    if store.dialect == "postgresql":
        hits = _search_pg(store, q, limit)
        return hits if stories is None else _shown(hits, stories, per_story, lambda h: h.story_id or h.item_id)
    return _search_sqlite(store, q, limit, stories, per_story)


def _shown(rows: list, stories: int, per_story: int, key) -> list:
    """The rows (best first) shown when grouped: `per_story` of each of the first `stories` keys."""
    count: dict[str, int] = {}
    out = []
    for r in rows:
        k = key(r)
        if k not in count and len(count) >= stories:
            continue
        if count.get(k, 0) < per_story:
            count[k] = count.get(k, 0) + 1
            out.append(r)
    return out


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
    if snippet_marked is not None:
        snippet_marked = " ".join(snippet_marked.split())  # a passage across paragraphs reads as one line
    return ItemHit(
        row.id,
        row.story_id,
        row.title or "",
        row.source or "",
        row.url or "",
        None if row.undated else _when(row.published),
        _when(row.first_seen),
        rank,
        title_marked if title_marked is not None else (row.title or ""),
        snippet_marked if snippet_marked is not None else _lead(row.text or ""),
    )


def _lead(body: str, words: int = SNIPPET_TOKENS) -> str:
    parts = body.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


_ROW = "i.id, i.story_id, i.title, i.source, i.url, i.published, i.undated, i.first_seen"


def _newest(store: Store, conn, q: Query, limit: int, params: dict, where: list[str]) -> list[ItemHit]:
    params["limit"] = limit
    sql = (
        f"SELECT {_ROW}, i.text FROM items i {'WHERE ' + ' AND '.join(where) if where else ''} "
        "ORDER BY i.published DESC, i.id LIMIT :limit"
    )
    return [_hit(r, 0.0, None, None) for r in conn.execute(_sql(sql, params), params)]


def _search_sqlite(store: Store, q: Query, limit: int, stories: int | None = None, per_story: int = 3) -> list[ItemHit]:
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
        params.update(match=expr, limit=limit, cap=RANKED_CANDIDATES)
        join = "JOIN items i ON i.rowid = f.rowid " if where else ""
        filters = "".join(f"AND {w} " for w in where)
        # BM25 (and the filters' look-up of each row) cost a few microseconds per matching row:
        # past RANKED_CANDIDATES matches only the newest that many are ranked. They are found
        # newest first along the index's own order, which costs no ranking and no look-up.
        bound = conn.execute(
            text("SELECT rowid FROM items_fts WHERE items_fts MATCH :match ORDER BY rowid DESC LIMIT 1 OFFSET :cap"),
            params,
        ).scalar()
        params["bound"] = bound if bound is not None else -(2**62)
        top = conn.execute(
            _sql(
                f"SELECT f.rowid AS rid, f.rank AS rank FROM items_fts f {join}"
                f"WHERE items_fts MATCH :match AND f.rowid > :bound {filters}"
                "ORDER BY f.rank LIMIT :limit",
                params,
            ),
            params,
        ).all()
        if len(top) < limit and bound is not None:
            # Too few of the newest matches pass the filters: older ones follow, newest first.
            params["rest"] = limit - len(top)
            older = conn.execute(
                _sql(
                    f"SELECT f.rowid AS rid, f.rank AS rank FROM items_fts f {join}"
                    f"WHERE items_fts MATCH :match AND f.rowid <= :bound {filters}"
                    "ORDER BY f.rowid DESC LIMIT :rest",
                    params,
                ),
                params,
            ).all()
        else:
            older = []
        if not top and not older:
            return []
        ranks = {r.rid: -r.rank for r in top}  # bm25 is lower-is-better
        floor = min(ranks.values(), default=0.0)
        ranks.update({r.rid: floor - 1.0 - n for n, r in enumerate(older)})  # after the ranked, newest first
        if stories is not None:
            order = sorted(ranks, key=lambda rid: -ranks[rid])
            keys = dict(
                conn.execute(
                    text(
                        "SELECT rowid, coalesce(story_id, id) FROM items WHERE rowid IN ("
                        + ", ".join(str(int(r)) for r in order)
                        + ")"
                    )
                ).all()
            )
            ranks = {rid: ranks[rid] for rid in _shown(order, stories, per_story, keys.get)}
        marks = {"ms": MARK_START, "me": MARK_END, "match": expr}
        # Snippets for the best rows alone: snippet() on every match before the sort would cost
        # more than the search.
        rows = conn.execute(
            text(
                f"SELECT f.rowid AS rid, {_ROW}, i.text, highlight(items_fts, 0, :ms, :me) AS hl, "
                f"snippet(items_fts, 1, :ms, :me, ' … ', {SNIPPET_TOKENS}) AS snip "
                "FROM items_fts f JOIN items i ON i.rowid = f.rowid "
                f"WHERE items_fts MATCH :match AND f.rowid IN ({', '.join(str(int(r)) for r in ranks)})"
            ),
            marks,
        ).all()
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
        params.update(
            limit=limit,
            cap=RANKED_CANDIDATES,
            opts=f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_TOKENS}, "
            'MinWords=12, MaxFragments=2, FragmentDelimiter=" … "',
            topts=f"StartSel={MARK_START}, StopSel={MARK_END}, HighlightAll=true",
        )
        sql = (
            f"WITH q AS (SELECT {tsq} AS query), candidates AS ("
            f"SELECT {_ROW}, i.text, i.search_tsv FROM items i, q "
            "WHERE i.search_tsv @@ q.query "
            + "".join(f"AND {w} " for w in where)
            + "ORDER BY i.published DESC LIMIT :cap), ranked AS ("
            f"SELECT {_ROW.replace('i.', 'c.')}, c.text, ts_rank(ARRAY[0.1, 0.1, 0.1, 1.0]::float4[], c.search_tsv, q.query) AS rank "
            "FROM candidates c, q ORDER BY rank DESC, c.id LIMIT :limit) "
            "SELECT r.*, ts_headline('english', coalesce(r.title, ''), q.query, :topts) AS hl, "
            f"ts_headline('english', left(coalesce(r.text, ''), {PG_TEXT_CHARS}), q.query, :opts) AS snip "
            "FROM ranked r, q ORDER BY r.rank DESC, r.id"
        )
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
            chunk = story_ids[start : start + 500]
            for r in s.execute(
                select(Story.id, Story.title, Story.n_items, Story.first_seen, Story.last_seen).where(
                    Story.id.in_(chunk)
                )
            ):
                out[r.id] = StoryInfo(r.id, r.title or "", r.n_items, as_utc(r.first_seen), as_utc(r.last_seen))
    return out


def issue_scores(store: Store, item_ids: list[str]) -> dict[str, dict[str, float]]:
    """item id -> {issue id: score} for these items (labels without their evidence)."""
    out: dict[str, dict[str, float]] = {i: {} for i in item_ids}
    with store.session() as s:
        conn = s.connection()
        for start in range(0, len(item_ids), 500):
            chunk = item_ids[start : start + 500]
            params = {f"i{n}": v for n, v in enumerate(chunk)}
            sql = f"SELECT item_id, issue_id, score FROM item_issues WHERE item_id IN ({', '.join(':' + k for k in params)})"
            for item_id, issue, score in conn.execute(text(sql), params):
                out[item_id][issue] = score
    return out


def new_story_ids(store: Store, since: datetime) -> list[str]:
    """Stories first seen at or after `since`: those an ingest that began then created (a story
    that only gained an item since is older, and not among them)."""
    from sqlalchemy import select

    from flows.store.schema import Story

    with store.session() as s:
        return list(s.scalars(select(Story.id).where(Story.first_seen >= since).order_by(Story.first_seen, Story.id)))


def latest_first_seen(store: Store) -> datetime | None:
    """When the newest item was first seen (the end of an issue page's trend)."""
    from sqlalchemy import func, select

    from flows.store.schema import Item

    with store.session() as s:
        return as_utc(s.scalar(select(func.max(Item.first_seen))))
