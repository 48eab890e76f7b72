"""A story as one card: stable id, headline, link, extractive summary, sources and labels.

Feeds (one entry per story) and alert messages are made of these, read from the store for a list
of story keys (a story id, or an item id for an item in no story).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flows.digest.summary import summarize
from flows.search.sides import side_of
from flows.store import Store
from flows.store.items import as_utc, get_item
from flows.store.search import issue_scores
from flows.store.stories import get_story, story_sources


@dataclass
class Card:
    key: str
    title: str
    link: str | None  # the representative item's http(s) URL
    summary: str
    sources: list[str]
    sides: dict[str, list[str]]  # side -> sources
    issues: list[str]  # issue ids, strongest first
    published: datetime
    updated: datetime
    n_items: int = 1
    links: dict[str, str] = field(default_factory=dict)  # source -> its item's link

    @property
    def urn(self) -> str:
        """The entry id feeds give this story: the same in every run and every feed."""
        return f"urn:uschina-digest:story:{self.key}"


def _link(url: str) -> str | None:
    return url if url.startswith(("http://", "https://")) else None


def card(store: Store, key: str) -> Card | None:
    """The card of a story (or of a lone item), None when neither exists."""
    story = get_story(store, key)
    if story is not None:
        members = story_sources(store, key)
        rep_id = story.representative_id
        published, updated, n = story.first_seen, story.last_seen, story.n_items
    else:
        item = get_item(store, key)
        if item is None:
            return None
        members, rep_id = [], key
        published = updated = as_utc(item.first_seen)
        n = 1
    rep = get_item(store, rep_id) or get_item(store, members[0].item_id if members else key)
    if rep is None:
        return None
    if not members:
        sources = [rep.source]
        links = {rep.source: rep.url}
    else:
        sources = sorted({m.source for m in members})
        links = {m.source: m.url for m in reversed(members)}
    scores: dict[str, float] = {}
    for item_scores in issue_scores(store, [m.item_id for m in members] or [rep.id]).values():
        for issue, score in item_scores.items():
            scores[issue] = max(scores.get(issue, 0.0), score)
    sides: dict[str, list[str]] = {}
    for source in sources:
        sides.setdefault(side_of(source, links.get(source) or ""), []).append(source)
    return Card(
        key,
        story.title if story else rep.title,
        _link(rep.url),
        summarize(rep.title, rep.text or ""),
        sources,
        sides,
        sorted(scores, key=lambda i: -scores[i]),
        published,
        updated,
        n,
        {s: u for s, u in links.items() if _link(u)},
    )


def cards(store: Store, keys: list[str], cache: dict[str, Card | None] | None = None) -> list[Card]:
    """The cards of these stories, in order; `cache` (key -> card) shares them between feeds that
    list the same story."""
    cache = {} if cache is None else cache
    out = []
    for key in dict.fromkeys(keys):
        if key not in cache:
            cache[key] = card(store, key)
        if cache[key] is not None:
            out.append(cache[key])
    return out
