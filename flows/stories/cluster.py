"""Incremental story assignment: each new item joins the story of its best match, or starts one.

No pass over the store: a new item is compared only with the items the persistent index offers
as candidates –

* items sharing an exact key (canonical URL, feed guid, content hash of a real body),
* items sharing a MinHash LSH band (near-duplicate text, any date),
* items published within `WINDOW_DAYS` that share at least `MIN_SHARED_TERMS` of its salient
  terms (rewrites and re-filed versions),

and `rewrite.same_story` decides among them. Items of one batch see each other as if they had
arrived one by one, in publication order, so the result does not depend on batch size.

A story keeps the id of the item that founded it. Stories are never merged after the fact: an
item that would bridge two stories joins the one it matches best, so a story id a digest has
already shown never disappears.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flows.store import Store
from flows.store import stories as repo
from flows.stories.canonical import canonical_url
from flows.stories.features import Fingerprint, fingerprint
from flows.stories.minhash import band_keys, signature
from flows.stories.rewrite import MIN_BODY_WORDS, REWRITE_WINDOW_HOURS, Verdict, same_story

WINDOW_DAYS = int(REWRITE_WINDOW_HOURS // 24)
MIN_SHARED_TERMS = 2
MAX_CANDIDATES = 40
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def day_number(at: datetime) -> int:
    return (at - _EPOCH).days


def _key(kind: str, value: str) -> str:
    return f"{kind}:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


def exact_keys(item: repo.ItemForStory, body_words: int) -> list[str]:
    """Keys that name the same article whatever feed or item key it arrived under.

    A content hash only counts for a real body: stubs such as "Good morning." are shared by
    unrelated items. A guid counts across feeds only when it is specific (a URL or a long token);
    short numeric guids are scoped to their feed.
    """
    keys = []
    url = canonical_url(item.url)
    if url:
        keys.append(_key("url", url))
    if item.guid:
        guid = item.guid.strip()
        specific = len(guid) >= 12 and not guid.isdigit()
        guid_url = canonical_url(guid)
        if guid_url:
            keys.append(_key("url", guid_url))
        elif specific:
            keys.append(_key("guid", guid))
        elif item.feed_url:
            keys.append(_key("guid", f"{item.feed_url}\n{guid}"))
    if body_words >= MIN_BODY_WORDS and item.content_hash:
        keys.append(_key("hash", item.content_hash))
    return list(dict.fromkeys(keys))


@dataclass
class _Prepared:
    item: repo.ItemForStory
    fp: Fingerprint
    day: int
    keys: list[str]
    bands: list[int]
    blob: bytes = b""


@dataclass
class _Known:
    """An assigned item as matching sees it."""

    story_id: str
    at: datetime
    fp: Fingerprint


@dataclass
class _BatchIndex:
    """The new items of this batch, indexed as they are assigned (the store sees them at commit)."""

    keys: dict[str, str] = field(default_factory=dict)
    bands: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    terms: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))


def assign(store: Store, item_ids: list[str]) -> dict[str, str]:
    """Assign these stored items to stories; returns item id -> story id.

    Items assigned before keep their story (calling twice changes nothing); unknown ids are
    ignored.
    """
    rows = repo.items_for_story(store, item_ids)
    result = {r.id: r.assigned_story for r in rows if r.assigned_story}
    fresh = [r for r in rows if not r.assigned_story]
    if not fresh:
        return result
    prepared = [_prepare(r) for r in fresh]
    prepared.sort(key=lambda p: (p.item.at, p.item.id))

    stored_keys = repo.stories_for_keys(store, [k for p in prepared for k in p.keys])
    stored_bands = repo.items_for_bands(store, [b for p in prepared for b in p.bands])
    stored_terms = _stored_postings(store, prepared)
    candidate_ids = {i for ids in stored_bands.values() for i in ids} | {
        i for ids in stored_terms.values() for i in ids}
    known: dict[str, _Known] = {
        row.item_id: _Known(row.story_id, row.at, Fingerprint.from_bytes(row.data))
        for row in repo.indexed_items(store, candidate_ids).values()
    }

    batch = _BatchIndex()
    assignments: list[repo.NewAssignment] = []
    for p in prepared:
        story_id = _story_by_key(p, batch, stored_keys)
        if story_id is None:
            story_id = _best_match(p, _candidates(p, batch, stored_bands, stored_terms), known)
        story_id = story_id or p.item.id
        result[p.item.id] = story_id
        known[p.item.id] = _Known(story_id, p.item.at, p.fp)
        for k in p.keys:
            batch.keys.setdefault(k, story_id)
        for b in p.bands:
            batch.bands[b].append(p.item.id)
        for t in p.fp.salient:
            batch.terms[t].append((p.day, p.item.id))
        assignments.append(repo.NewAssignment(p.item.id, story_id, p.item.at, p.day, p.fp.to_bytes(), p.keys,
                                              p.bands, list(p.fp.salient)))
    repo.save_assignments(store, assignments)
    return result


def _prepare(item: repo.ItemForStory) -> _Prepared:
    fp = fingerprint(item.title, item.text)
    return _Prepared(item, fp, day_number(item.at), exact_keys(item, fp.body_words), band_keys(signature(fp.shingles)))


def _stored_postings(store: Store, prepared: list[_Prepared]) -> dict[str, list[tuple[int, str]]]:
    """Stored term postings near the batch's days, fetched per run of nearby days (not per item)."""
    by_day: dict[int, set[str]] = defaultdict(set)
    for p in prepared:
        by_day[p.day].update(p.fp.salient)
    postings: dict[str, list[tuple[int, str]]] = defaultdict(list)
    days = sorted(by_day)
    start = 0
    while start < len(days):
        end = start
        while end + 1 < len(days) and days[end + 1] - days[end] <= 2 * WINDOW_DAYS:
            end += 1
        terms = set().union(*(by_day[d] for d in days[start:end + 1]))
        for term, day, item_id in repo.items_for_terms(store, terms, days[start] - WINDOW_DAYS,
                                                       days[end] + WINDOW_DAYS):
            postings[term].append((day, item_id))
        start = end + 1
    return postings


def _story_by_key(p: _Prepared, batch: _BatchIndex, stored: dict[str, str]) -> str | None:
    for k in p.keys:
        story_id = batch.keys.get(k) or stored.get(k)
        if story_id:
            return story_id
    return None


def _candidates(p: _Prepared, batch: _BatchIndex, stored_bands: dict[int, list[str]],
                stored_terms: dict[str, list[tuple[int, str]]]) -> list[str]:
    """Candidate items: any shared LSH band, or enough shared salient terms within the window."""
    by_band = {i for b in p.bands for i in (*stored_bands.get(b, ()), *batch.bands.get(b, ()))}
    shared: Counter[str] = Counter()
    lo, hi = p.day - WINDOW_DAYS, p.day + WINDOW_DAYS
    for term in p.fp.salient:
        near = {i for d, i in stored_terms.get(term, ()) if lo <= d <= hi}
        near.update(i for d, i in batch.terms.get(term, ()) if lo <= d <= hi)
        shared.update(near)
    by_terms = [i for i, n in shared.most_common() if n >= MIN_SHARED_TERMS][:MAX_CANDIDATES]
    return list(dict.fromkeys([*by_band, *by_terms]))


def _best_match(p: _Prepared, candidates: list[str], known: dict[str, _Known]) -> str | None:
    best: tuple[Verdict, str] | None = None
    for cid in candidates:
        other = known.get(cid)
        if other is None or cid == p.item.id:
            continue
        verdict = same_story(p.fp, other.fp, (p.item.at - other.at).total_seconds() / 3600)
        if verdict.same and (best is None or verdict.score > best[0].score):
            best = (verdict, other.story_id)
    return best[1] if best else None
