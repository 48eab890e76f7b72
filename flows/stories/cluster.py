"""Incremental story assignment: each new item joins the story of its best match, or starts one.

No pass over the store: a new item is compared only with the items the persistent index offers
as candidates –

* items sharing an exact key (canonical URL, feed guid, content hash of a real body),
* items published within `COPY_WINDOW_DAYS` sharing a MinHash LSH band (near-duplicate text),
* items published within `WINDOW_DAYS` that share at least `MIN_SHARED_TERMS` of its salient
  terms (rewrites and re-filed versions),

and `rewrite.same_story` decides among them. Items of one batch see each other as if they had
arrived one by one, in publication order. Batch size can still matter at the margin: the stored
index and the batch each offer their own best `MAX_CANDIDATES` by shared terms, and an item
published before the previous batch's last one is matched after it (100,000 benchmark items:
69,133 stories in batches of 1,000, 69,134 in batches of 2,500).

A story keeps the id of the item that founded it. Stories are never merged after the fact: an
item that would bridge two stories joins the one it matches best, so a story id a digest has
already shown never disappears.
"""

from __future__ import annotations

import gc
import hashlib
import weakref
from collections import Counter, OrderedDict, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator
from datetime import datetime, timezone
from urllib.parse import urlsplit

from flows.store import Store
from flows.store import stories as repo
from flows.stories.canonical import canonical_url
from flows.stories.features import Fingerprint, fingerprint
from flows.stories.minhash import band_keys, signature
from flows.stories.rewrite import COPY_WINDOW_HOURS, MIN_BODY_WORDS, REWRITE_WINDOW_HOURS, Verdict, same_story

WINDOW_DAYS = int(REWRITE_WINDOW_HOURS // 24)
COPY_WINDOW_DAYS = int(COPY_WINDOW_HOURS // 24)
MIN_SHARED_TERMS = 2
MAX_CANDIDATES = 15
FINGERPRINT_CACHE = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def day_number(at: datetime) -> int:
    return (at - _EPOCH).days


def _key(kind: str, value: str) -> str:
    return f"{kind}:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


def exact_keys(item: repo.ItemForStory) -> list[str]:
    """Keys that name the same article whatever feed or item key it arrived under.

    A content hash only counts for a real body: stubs such as "Good morning." are shared by
    unrelated items. A guid counts across feeds only when it is specific (a URL or a long token);
    short numeric guids are scoped to their feed.
    """
    keys = []
    guid = (item.guid or "").strip()
    # Fragments are dropped from URLs, unless the feed names its entries by anchors on one page
    # (guid "…/now.html#2026-02-16"): then the anchor is the entry.
    anchor = urlsplit(guid).fragment if guid.startswith(("http://", "https://")) else ""
    url = canonical_url(item.url)
    if url:
        if anchor and urlsplit(item.url).fragment == anchor:
            url += "#" + anchor
        keys.append(_key("url", url))
    if guid:
        specific = len(guid) >= 12 and not guid.isdigit()
        guid_url = canonical_url(guid)
        if guid_url and anchor:
            guid_url += "#" + anchor
        if guid_url:
            keys.append(_key("url", guid_url))
        elif specific:
            keys.append(_key("guid", guid))
        elif item.feed_url:
            keys.append(_key("guid", f"{item.feed_url}\n{guid}"))
    if item.word_count >= MIN_BODY_WORDS and item.content_hash:
        keys.append(_key("hash", item.content_hash))
    return list(dict.fromkeys(keys))


@dataclass
class _Prepared:
    """A new item with everything about it that depends on nothing else."""

    item: repo.ItemForStory
    day: int
    keys: list[str]
    fp: Fingerprint | None = None  # computed unless the item is an exact copy
    bands: list[int] = field(default_factory=list)

    def fingerprint(self) -> None:
        self.fp = fingerprint(self.item.title, self.item.text)
        self.bands = _bands(self.fp)


def _bands(fp: Fingerprint) -> list[int]:
    # Copies need a real body (rewrite.same_story), so stubs get no LSH bands.
    return band_keys(signature(fp.shingles)) if fp.body_words >= MIN_BODY_WORDS else []


def _postings(data: bytes) -> tuple[list[int], list[str]]:
    """What a stored fingerprint is filed under in the index: its LSH bands and salient terms."""
    fp = Fingerprint.from_bytes(data)
    return _bands(fp), list(fp.salient)


_CURRENT_LAYOUT: "weakref.WeakSet" = weakref.WeakSet()  # engines whose index tables were checked


def _ensure_index_layout(store: Store) -> None:
    """Bring a store made by an older version up to the current index layout (once per process)."""
    if store.engine not in _CURRENT_LAYOUT:
        if repo.postings_outdated(store):
            repo.rebuild_postings(store, _postings)
        _CURRENT_LAYOUT.add(store.engine)


@dataclass
class _Known:
    """An assigned item as matching sees it."""

    story_id: str
    at: datetime
    fp: Fingerprint
    feed_url: str | None


@dataclass
class _Index:
    """Exact keys, LSH bands and salient-term postings: a slice of the stored index, or the new
    items of this batch (indexed as they are assigned; the store sees them at commit)."""

    keys: dict[str, str] = field(default_factory=dict)  # key -> story id
    bands: dict[int, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    terms: dict[str, dict[int, list[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))

    def add(self, p: "_Prepared", story_id: str) -> None:
        for k in p.keys:
            self.keys.setdefault(k, story_id)
        if p.fp is None:
            return
        for b in p.bands:
            self.bands[b].append((p.day, p.item.id))
        for t in p.fp.salient:
            self.terms[t][p.day].append(p.item.id)

    def story_by_key(self, p: "_Prepared") -> str | None:
        return next((self.keys[k] for k in p.keys if k in self.keys), None)

    def candidates(self, p: "_Prepared") -> list[str]:
        """Items sharing an LSH band, or enough salient terms, within their windows.

        In a fixed order (band matches by id, then the most shared terms first, ties by id), so
        which candidate wins a tie never depends on set iteration order (the hash seed).
        """
        lo, hi = p.day - COPY_WINDOW_DAYS, p.day + COPY_WINDOW_DAYS
        by_band = sorted({i for b in p.bands for d, i in self.bands.get(b, ()) if lo <= d <= hi})
        # An item is filed once per term, under its own day: no id repeats within one term.
        filed: list[str] = []
        days = range(p.day - WINDOW_DAYS, p.day + WINDOW_DAYS + 1)
        for term in p.fp.salient:
            by_day = self.terms.get(term)
            if by_day:
                for day in days:
                    if ids := by_day.get(day):
                        filed.extend(ids)
        shared = Counter(filed)
        by_terms = sorted(((-n, i) for i, n in shared.items() if n >= MIN_SHARED_TERMS))[:MAX_CANDIDATES]
        return list(dict.fromkeys([*by_band, *(i for _, i in by_terms)]))


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one batch.

    A batch allocates a few hundred thousand short-lived containers (postings, candidate lists,
    fingerprints) and makes no reference cycles, so reference counting frees everything; the
    collector's repeated passes over a heap that holds the fingerprint cache only cost time
    (measured: a fifth of the assignment time). It runs again as soon as the batch is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def assign(store: Store, item_ids: list[str]) -> dict[str, str]:
    """Assign these stored items to stories; returns item id -> story id.

    Items assigned before keep their story (calling twice changes nothing); unknown ids are
    ignored.
    """
    _ensure_index_layout(store)
    with _cyclic_gc_paused():
        return _assign(store, item_ids)


def _assign(store: Store, item_ids: list[str]) -> dict[str, str]:
    rows = repo.items_for_story(store, item_ids)
    result = {r.id: r.assigned_story for r in rows if r.assigned_story}
    fresh = [r for r in rows if not r.assigned_story]
    if not fresh:
        return result
    prepared = [_Prepared(r, day_number(r.at), exact_keys(r)) for r in sorted(fresh, key=lambda r: (r.at, r.id))]
    stored_keys = repo.stories_for_keys(store, [k for p in prepared for k in p.keys])
    # An exact copy (a key seen before, here or in this batch) joins its story as it is and is
    # not fingerprinted: the item it copies already stands for its text in the index.
    seen_keys = set(stored_keys)
    originals = []
    for p in prepared:
        if not seen_keys.intersection(p.keys):
            originals.append(p)
        seen_keys.update(p.keys)
    for p in originals:
        p.fingerprint()

    stored = _stored_index(store, originals)
    stored.keys = stored_keys
    stored_candidates = {p.item.id: stored.candidates(p) for p in originals}
    known = _load_known(store, {i for ids in stored_candidates.values() for i in ids})

    batch = _Index()
    assignments: list[repo.NewAssignment] = []
    for p in prepared:
        story_id = batch.story_by_key(p) or stored.story_by_key(p)
        if story_id is None:
            candidates = [*stored_candidates[p.item.id], *batch.candidates(p)]
            story_id = _best_match(p, candidates, known) or p.item.id
        result[p.item.id] = story_id
        batch.add(p, story_id)
        if p.fp is None:
            assignments.append(repo.NewAssignment(p.item.id, story_id, p.item.at, p.day, b"", p.keys, [], []))
            continue
        known[p.item.id] = _Known(story_id, p.item.at, p.fp, p.item.feed_url)
        blob = p.fp.to_bytes()
        _RECENT.put(blob, p.fp)
        assignments.append(
            repo.NewAssignment(p.item.id, story_id, p.item.at, p.day, blob, p.keys, p.bands, list(p.fp.salient))
        )
    repo.save_assignments(store, assignments)
    return result


class _FingerprintCache:
    """Decoded fingerprints of recently matched items, keyed by their stored bytes.

    Consecutive batches meet the same recent items as candidates; keeping their decoded
    fingerprints (with weights computed) saves decoding them again. Keyed by the stored bytes,
    not the item id, so a hit is always the fingerprint the store holds, whichever store it is.
    Bounded, least recently used out first.
    """

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict[bytes, Fingerprint] = OrderedDict()

    def decode(self, blob: bytes) -> Fingerprint:
        fp = self.items.get(blob)
        if fp is None:
            fp = Fingerprint.from_bytes(blob)
            self.put(blob, fp)
        else:
            self.items.move_to_end(blob)
        return fp

    def put(self, blob: bytes, fp: Fingerprint) -> None:
        self.items[blob] = fp
        self.items.move_to_end(blob)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


_RECENT = _FingerprintCache(FINGERPRINT_CACHE)


def _load_known(store: Store, item_ids: set[str]) -> dict[str, _Known]:
    return {
        row.item_id: _Known(row.story_id, row.at, _RECENT.decode(row.data), row.feed_url)
        for row in repo.indexed_items(store, item_ids).values()
    }


def _stored_index(store: Store, prepared: list[_Prepared]) -> _Index:
    """The part of the stored index this batch's fingerprinted items can match: their LSH bands
    and salient terms near their days (fetched per run of nearby days, not per item)."""
    index = _Index()
    for first, last, group in _day_runs(prepared, COPY_WINDOW_DAYS):
        for band, day, item_id in repo.items_for_bands(store, {b for p in group for b in p.bands}, first, last):
            index.bands[band].append((day, item_id))
    for first, last, group in _day_runs(prepared, WINDOW_DAYS):
        for term, day, item_id in repo.items_for_terms(store, {t for p in group for t in p.fp.salient}, first, last):
            index.terms[term][day].append(item_id)
    return index


def _day_runs(prepared: list[_Prepared], window: int) -> list[tuple[int, int, list[_Prepared]]]:
    """Split a batch into runs of items whose windows overlap: (first day, last day, items)."""
    runs: list[tuple[int, int, list[_Prepared]]] = []
    for p in sorted(prepared, key=lambda p: p.day):
        if runs and p.day - window <= runs[-1][1]:
            first, _, group = runs[-1]
            group.append(p)
            runs[-1] = (first, p.day + window, group)
        else:
            runs.append((p.day - window, p.day + window, [p]))
    return runs


def _best_match(p: _Prepared, candidates: list[str], known: dict[str, _Known]) -> str | None:
    best: tuple[Verdict, str] | None = None
    for cid in candidates:
        other = known.get(cid)
        if other is None or cid == p.item.id:
            continue
        same_feed = p.item.feed_url is not None and p.item.feed_url == other.feed_url
        verdict = same_story(p.fp, other.fp, (p.item.at - other.at).total_seconds() / 3600, same_feed)
        if verdict.same and (best is None or verdict.score > best[0].score):
            best = (verdict, other.story_id)
    return best[1] if best else None
