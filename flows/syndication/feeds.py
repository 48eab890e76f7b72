"""Atom (RFC 4287) and JSON Feed 1.1 documents of stories, and the set written beside the archive.

    digests/feeds/latest.atom, latest.json            the stories of the latest digests
    digests/feeds/issue-<id>.atom, .json              the newest stories on each issue
    digests/feeds/search-<name>.atom, .json           each saved search of config/alerts.yaml

One entry per story, its id `urn:uschina-digest:story:<key>` (stable across runs and feeds), with
headline, extractive summary, sources and labels (as categories / tags). XML is built with
ElementTree and JSON with `json`, so every feed text is escaped by the serializer.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

from flows.config import Settings, load_taxonomy
from flows.digest.render import write_atomic
from flows.search.query import Query
from flows.search.results import run_query
from flows.store import Store
from flows.store.digests import digest_story_keys, list_digests
from flows.syndication.cards import Card, cards

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_STORIES = 50
LATEST_DIGESTS = 3
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


@dataclass
class Feed:
    name: str  # file stem: latest, issue-taiwan, search-entity-list
    title: str
    subtitle: str
    cards: list[Card]
    issue_names: dict[str, str]

    @property
    def updated(self) -> datetime:
        return max((c.updated for c in self.cards), default=EPOCH)

    @property
    def urn(self) -> str:
        return f"urn:uschina-digest:feed:{self.name}"


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _summary(c: Card, names: dict[str, str]) -> str:
    parts = [c.summary] if c.summary else []
    parts.append("Sources: " + ", ".join(c.sources))
    if c.issues:
        parts.append("Issues: " + ", ".join(names.get(i, i) for i in c.issues))
    return "\n".join(parts)


def atom(feed: Feed, self_url: str | None = None, site_url: str | None = None) -> bytes:
    """The feed as Atom 1.0."""
    ET.register_namespace("", ATOM_NS)
    q = lambda tag: f"{{{ATOM_NS}}}{tag}"  # noqa: E731
    root = ET.Element(q("feed"))
    ET.SubElement(root, q("id")).text = feed.urn
    ET.SubElement(root, q("title")).text = feed.title
    ET.SubElement(root, q("subtitle")).text = feed.subtitle
    ET.SubElement(root, q("updated")).text = _iso(feed.updated)
    author = ET.SubElement(root, q("author"))
    ET.SubElement(author, q("name")).text = "US–China Digest"
    if self_url:
        ET.SubElement(root, q("link"), rel="self", href=self_url, type="application/atom+xml")
    if site_url:
        ET.SubElement(root, q("link"), rel="alternate", href=site_url, type="text/html")
    for c in feed.cards:
        entry = ET.SubElement(root, q("entry"))
        ET.SubElement(entry, q("id")).text = c.urn
        ET.SubElement(entry, q("title")).text = c.title
        ET.SubElement(entry, q("published")).text = _iso(c.published)
        ET.SubElement(entry, q("updated")).text = _iso(c.updated)
        if c.link:
            ET.SubElement(entry, q("link"), rel="alternate", href=c.link, type="text/html")
        for source, link in c.links.items():
            if link != c.link:
                ET.SubElement(entry, q("link"), rel="related", href=link, title=source)
        ET.SubElement(entry, q("summary"), type="text").text = _summary(c, feed.issue_names)
        for issue in c.issues:
            ET.SubElement(entry, q("category"), term=issue, label=feed.issue_names.get(issue, issue))
        for source in c.sources:
            contributor = ET.SubElement(entry, q("contributor"))
            ET.SubElement(contributor, q("name")).text = source
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")


def json_feed(feed: Feed, self_url: str | None = None, site_url: str | None = None) -> bytes:
    """The feed as JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    doc: dict = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "description": feed.subtitle,
        "authors": [{"name": "US–China Digest"}],
        "language": "en",
    }
    if self_url:
        doc["feed_url"] = self_url
    if site_url:
        doc["home_page_url"] = site_url
    doc["items"] = []
    for c in feed.cards:
        item = {
            "id": c.urn,
            "title": c.title,
            "content_text": _summary(c, feed.issue_names),
            "summary": c.summary or c.title,
            "date_published": _iso(c.published),
            "date_modified": _iso(c.updated),
            "tags": [feed.issue_names.get(i, i) for i in c.issues],
            "authors": [{"name": s} for s in c.sources],
            "_uschina_digest": {
                "story": c.key,
                "issues": c.issues,
                "sources": c.sources,
                "sides": c.sides,
                "links": c.links,
                "n_items": c.n_items,
            },
        }
        if c.link:
            item["url"] = c.link
        doc["items"].append(item)
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def last_modified(feed: Feed) -> str:
    return format_datetime(feed.updated.astimezone(timezone.utc), usegmt=True)


# ------------------------------------------------------------------ the feeds of a store


def _names(settings: Settings) -> dict[str, str]:
    return {i.id: i.name for i in load_taxonomy(settings.issues_file).issues}


def latest_feed(store: Store, settings: Settings, cache: dict | None = None) -> Feed:
    """The stories of the latest digests, newest digest first."""
    keys: list[str] = []
    for d in list_digests(store)[:LATEST_DIGESTS]:
        keys += digest_story_keys(store, d.id)
    found = cards(store, keys[:FEED_STORIES], cache)
    found.sort(key=lambda c: c.updated, reverse=True)
    return Feed("latest", "US–China Digest · latest", "The stories of the latest digests", found, _names(settings))


def query_feed(
    store: Store, settings: Settings, name: str, title: str, subtitle: str, query: Query, cache: dict | None = None
) -> Feed:
    """The newest stories matching a query (an issue's, or a saved search's)."""
    results = run_query(store, query, FEED_STORIES)
    found = cards(store, [s.key for s in results.stories], cache)
    found.sort(key=lambda c: c.updated, reverse=True)
    return Feed(name, title, subtitle, found, _names(settings))


def issue_feed(store: Store, settings: Settings, issue_id: str, cache: dict | None = None) -> Feed:
    names = _names(settings)
    if issue_id not in names:
        raise KeyError(issue_id)
    return query_feed(
        store,
        settings,
        f"issue-{issue_id}",
        f"US–China Digest · {names[issue_id]}",
        f"The newest stories on {names[issue_id]}",
        Query(issues=[issue_id]),
        cache,
    )


def search_feed(store: Store, settings: Settings, alert, cache: dict | None = None) -> Feed:
    return query_feed(
        store,
        settings,
        f"search-{alert.name}",
        f"US–China Digest · saved search {alert.name}",
        f"Stories matching {alert.query}",
        alert.parsed,
        cache,
    )


def all_feeds(store: Store, settings: Settings) -> list[Feed]:
    from flows.alerts.config import load_alerts

    cache: dict = {}  # a story in several feeds is read once
    feeds = [latest_feed(store, settings, cache)]
    feeds += [issue_feed(store, settings, i, cache) for i in _names(settings)]
    feeds += [search_feed(store, settings, a, cache) for a in load_alerts(settings).alerts]
    return feeds


def write_feeds(store: Store, settings: Settings) -> list[Path]:
    """Every feed as `<name>.atom` and `<name>.json` in `digests/feeds/` (for a static host)."""
    folder = settings.digests_dir / "feeds"
    base = settings.digest.archive_url.rstrip("/") + "/feeds/" if settings.digest.archive_url else None
    site = settings.digest.archive_url
    written = []
    for feed in all_feeds(store, settings):
        for ext, render in (("atom", atom), ("json", json_feed)):
            path = folder / f"{feed.name}.{ext}"
            body = render(feed, f"{base}{feed.name}.{ext}" if base else None, site)
            if not path.exists() or path.read_bytes() != body:
                write_atomic(path, body)
            written.append(path)
    return written
