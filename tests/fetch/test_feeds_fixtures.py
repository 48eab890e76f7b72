"""Real-world feeds from ../shared/fixtures, served over HTTP on 127.0.0.1 and ingested."""

from __future__ import annotations

import asyncio
import html
import json
import re
from pathlib import Path

from sqlalchemy import select

from flows.config import FeedSource
from flows.fetch import Fetcher
from flows.sources.feedparse import parse_feed
from flows.sources.feeds import clean_link, ingest_feeds
from flows.store.schema import Item
from webserver import Response, static

# Real-world feeds, not timeouts, are under test here: generous limits so a loaded machine passes.
NO_PAGES_RELAXED = dict(full_text=False, connect_timeout=10.0, read_timeout=10.0)

_HEADER = re.compile(rb"Header:\s*Content-type:\s*([^\r\n]*)", re.I)
_EXPECT = re.compile(rb"Expect:\s*([^\r\n]*)")


def _expected_pairs(folder: Path) -> list[tuple[Path, Path, str]]:
    pairs = [(xml, xml.with_suffix(".json"), "application/xml") for xml in sorted(folder.glob("*.xml"))]
    pairs.append((folder / "json_feed_sample.json", folder / "json_feed_sample.expected.json", "application/feed+json"))
    return pairs


def _norm(text: str | None) -> str | None:
    # The expected files keep double-escaped entities ("1939:&nbsp;Family") as literal text; a
    # reader shows the character, as we store it. Compare the text a reader would see.
    return " ".join(html.unescape(text).split()) if text is not None else None


def test_feeds_expected_match_titles_and_links(web, settings, shared_fixtures):
    pairs = _expected_pairs(shared_fixtures / "feeds-expected")
    urls = [web.route(f"/{src.name}", static(src.read_bytes(), ctype)) for src, _, ctype in pairs]

    async def fetch_all():
        async with Fetcher(settings.fetch) as fetcher:
            return await asyncio.gather(*(fetcher.get(u) for u in urls))

    checked = 0
    for (src, expected_file, _), result in zip(pairs, asyncio.run(fetch_all())):
        expected = json.loads(expected_file.read_text(encoding="utf-8"))
        parsed = parse_feed(result.body, result.final_url, result.headers)
        assert _norm(parsed.title) == _norm(expected["feed"].get("title")), src.name
        got = [(_norm(e.title) or None, e.link) for e in parsed.entries]
        want = [(_norm(e.get("title")) or None, e.get("link")) for e in expected["entries"]]
        assert got == want, src.name
        checked += len(want)
    assert len(pairs) == 14 and checked > 150


def test_feeds_expected_ingest_stores_every_entry(web, make_settings, store, shared_fixtures):
    pairs = _expected_pairs(shared_fixtures / "feeds-expected")
    feeds = [FeedSource(url=web.route(f"/{src.name}", static(src.read_bytes(), ctype))) for src, _, ctype in pairs]
    reports = ingest_feeds(make_settings(**NO_PAGES_RELAXED), store, feeds)
    assert [r.status for r in reports] == ["ok"] * len(pairs)
    with store.session() as s:
        stored = {(i.title, i.url) for i in s.scalars(select(Item))}
    titles, urls = {t for t, _ in stored}, {u for _, u in stored}
    for src, expected_file, _ in pairs:
        for entry in json.loads(expected_file.read_text(encoding="utf-8"))["entries"]:
            # An entry whose link another feed's entry already has is the same article, stored once.
            assert _norm(entry.get("title")) in titles or clean_link(entry["link"]) in urls, (src.name, entry)


def _edge_cases(folder: Path) -> list[tuple[str, bytes, str | None, str]]:
    cases = []
    for path in sorted(folder.rglob("*.xml")):
        body = path.read_bytes()
        header = _HEADER.search(body[:3000])
        expect = _EXPECT.search(body[:3000])
        cases.append(
            (
                str(path.relative_to(folder)),
                body,
                header.group(1).decode().strip() if header else None,
                expect.group(1).decode() if expect else "",
            )
        )
    return cases


def test_feedparser_edge_cases_do_not_break_the_run(web, make_settings, store, shared_fixtures):
    cases = _edge_cases(shared_fixtures / "feedparser-edge")
    feeds = []
    for i, (name, body, content_type, _) in enumerate(cases):
        # Served with the Content-Type the case's header comment names, or none at all.
        response = Response(200, body, {"Content-Type": content_type} if content_type else {})
        feeds.append(FeedSource(url=web.route(f"/edge/{i}", response), name=name))
    reports = ingest_feeds(make_settings(**NO_PAGES_RELAXED), store, feeds)
    assert len(reports) == len(cases) > 100
    by_name = {r.source: r for r in reports}
    assert all(r.status in ("ok", "error") for r in reports)
    assert not [r for r in reports if r.error and "internal error" in r.error]
    for name, _, _, expect in cases:
        if expect.startswith("not bozo"):
            assert by_name[name].status == "ok", (name, by_name[name].error)
    assert by_name["illformed/rss_empty_document.xml"].status == "error"
    with store.session() as s:
        items = {i.source: i for i in s.scalars(select(Item))}
    assert items["illformed/rss_item_link_corrupted_ampersands.xml"].url.endswith("get?a=1&b=2")
    # Legacy encodings with no declaration anywhere are detected, not read as mojibake.
    assert items["illformed/chardet/koi8r.xml"].title == "Как пережить новогоднюю ночь"
    assert items["illformed/chardet/shiftjis.xml"].title.startswith("DrecomRSSに記事投稿")


def test_real_fixture_feeds_ingest(web, make_settings, store, shared_fixtures):
    folder = shared_fixtures / "feeds"
    files = sorted(folder.glob("*.feed"))[::3]  # a third of them: the benchmark ingests all 110
    feeds = [FeedSource(url=web.route(f"/feeds/{f.name}", static(f.read_bytes(), "application/xml"))) for f in files]
    reports = ingest_feeds(make_settings(**NO_PAGES_RELAXED), store, feeds, max_items=3)
    failures = [(r.source, r.error) for r in reports if r.status != "ok"]
    assert len(files) == 37 and failures == []
    assert sum(r.items_new for r in reports) >= 100
