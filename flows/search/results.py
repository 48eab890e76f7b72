"""Search results grouped by story, with snippets escaped first and highlighted after.

    results = search(store, 'entity list since:2026-03-01', limit=20)
    for story in results.stories: story.title, story.hits[0].snippet_html

A story ranks by its best item; every matching item of the story is listed under it. Items that
belong to no story yet stand alone (keyed by their own id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup, escape

from flows.search.query import Query, parse
from flows.store import Store
from flows.store.search import MARK_END, MARK_START, ItemHit, issue_scores, search_items, stories_info

ITEMS_PER_STORY_FETCHED = 4  # item hits ranked per story asked for (stories have several items)
HITS_SHOWN_PER_STORY = 3
MAX_ITEM_HITS = 1000


def marked_html(marked: str) -> Markup:
    """Text whose matches are between MARK_START/MARK_END, escaped, with the matches in <mark>."""
    out, depth = [], 0
    for n, part in enumerate(str(escape(marked)).replace(MARK_END, MARK_START + MARK_END).split(MARK_START)):
        if n and part.startswith(MARK_END):
            part = part[len(MARK_END) :]
            if depth:
                out.append("</mark>")
                depth -= 1
        elif n:
            out.append("<mark>")
            depth += 1
        out.append(part)
    out.append("</mark>" * depth)
    return Markup("".join(out))


def marked_text(marked: str) -> str:
    """The same for a terminal: matches in [brackets]."""
    return marked.replace(MARK_START, "[").replace(MARK_END, "]")


@dataclass
class Hit:
    """One matching item, as shown."""

    item_id: str
    title: str
    source: str
    url: str
    published: datetime | None
    first_seen: datetime
    rank: float
    title_marked: str
    snippet_marked: str

    @property
    def title_html(self) -> Markup:
        return marked_html(self.title_marked)

    @property
    def snippet_html(self) -> Markup:
        return marked_html(self.snippet_marked)

    @property
    def link(self) -> str | None:
        return self.url if self.url.startswith(("http://", "https://")) else None

    def to_dict(self) -> dict:
        return {
            "item_id": self.item_id,
            "title": self.title,
            "source": self.source,
            "url": self.url,
            "published": self.published.isoformat() if self.published else None,
            "first_seen": self.first_seen.isoformat(),
            "rank": round(self.rank, 6),
            "title_highlighted": marked_text(self.title_marked),
            "snippet": marked_text(self.snippet_marked),
        }


@dataclass
class StoryResult:
    key: str  # story id, or the item's id when it has no story
    story_id: str | None
    title: str
    n_items: int  # items in the story, matching or not
    first_seen: datetime
    rank: float
    hits: list[Hit] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)

    @property
    def sources(self) -> list[str]:
        return sorted({h.source for h in self.hits})

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "story_id": self.story_id,
            "title": self.title,
            "n_items": self.n_items,
            "first_seen": self.first_seen.isoformat(),
            "rank": round(self.rank, 6),
            "issues": self.issues,
            "sources": self.sources,
            "hits": [h.to_dict() for h in self.hits],
        }


@dataclass
class SearchResults:
    query: str
    parsed: Query
    stories: list[StoryResult]
    n_items: int  # matching items shown (at most HITS_SHOWN_PER_STORY a story)

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "n_stories": len(self.stories),
            "n_items": self.n_items,
            "stories": [s.to_dict() for s in self.stories],
        }


def group(store: Store, hits: list[ItemHit], limit: int) -> list[StoryResult]:
    """Item hits (best first) into stories (best first), at most `limit` of them."""
    by_key: dict[str, StoryResult] = {}
    for h in hits:
        key = h.story_id or h.item_id
        story = by_key.get(key)
        if story is None:
            if len(by_key) >= limit:
                continue
            story = by_key[key] = StoryResult(key, h.story_id, h.title, 1, h.first_seen, h.rank)
        story.hits.append(
            Hit(
                h.item_id, h.title, h.source, h.url, h.published, h.first_seen, h.rank, h.title_marked, h.snippet_marked
            )
        )
    info = stories_info(store, [s.story_id for s in by_key.values() if s.story_id])
    labels = issue_scores(store, [h.item_id for s in by_key.values() for h in s.hits])
    for story in by_key.values():
        if story.story_id in info:
            i = info[story.story_id]
            story.title, story.n_items, story.first_seen = i.title or story.title, i.n_items, i.first_seen
        best: dict[str, float] = {}
        for h in story.hits:
            for issue, score in labels.get(h.item_id, {}).items():
                best[issue] = max(best.get(issue, 0.0), score)
        story.issues = sorted(best, key=lambda i: -best[i])
    return list(by_key.values())


def run_query(store: Store, parsed: Query, limit: int = 20, query: str = "") -> SearchResults:
    """Search with an already parsed query (saved searches parse theirs once)."""
    hits = search_items(
        store,
        parsed,
        min(MAX_ITEM_HITS, max(1, limit) * ITEMS_PER_STORY_FETCHED),
        stories=limit,
        per_story=HITS_SHOWN_PER_STORY,
    )
    return SearchResults(query, parsed, group(store, hits, limit), len(hits))


def search(store: Store, query: str, limit: int = 20) -> SearchResults:
    """Parse and run a query; `QueryError` (one line) when it cannot be read."""
    return run_query(store, parse(query), limit, query)
