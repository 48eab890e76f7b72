"""`ingest_feeds` end to end against a live server: items, full text, fallbacks, health, backoff."""

from __future__ import annotations

import gzip
import json
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from feedtestkit import page, rss
from flows.config import FeedSource
from flows.sources.feeds import clean_link, ingest_feeds
from flows.store.feeds import BACKOFF_BASE_S, feed_health, load_states
from flows.store.schema import Item
from webserver import Response, http_date, sequence, static

HTML = "text/html; charset=utf-8"


def items(store) -> list[Item]:
    with store.session() as s:
        return list(s.scalars(select(Item).order_by(Item.title)))


def serve_pages(web) -> dict[str, str]:
    urls = {}
    for name in ("tariffs", "strait", "students"):
        urls[name] = web.route(f"/news/{name}", static(page(f"{name}.html"), HTML))
    return urls


def three_item_feed(urls: dict[str, str]) -> bytes:
    return rss(
        [
            {
                "title": "New tariff threats",
                "link": urls["tariffs"] + "?utm_source=rss#top",
                "guid": "wire-1",
                "pubDate": "Tue, 10 Feb 2026 08:00:00 +0000",
                "description": "Tariffs, again.",
            },
            {
                "title": "Drills near the strait",
                "link": urls["strait"],
                "guid": urls["strait"],
                "pubDate": "Wed, 11 Feb 2026 09:30:00 +0100",
                "description": "Ships and planes.",
            },
            {
                "title": "Visa review",
                "link": urls["students"],
                "description": "Universities brace for a review of student visas.",
            },
        ]
    )


def test_new_entries_are_stored_with_full_text_and_metadata(web, settings, store):
    urls = serve_pages(web)
    feed_url = web.route("/feed.xml", static(three_item_feed(urls), etag='"a"'))
    progress = []
    [report] = ingest_feeds(settings, store, [FeedSource(url=feed_url, name="Wire")], on_progress=progress.append)
    assert (report.status, report.items_new, report.items_seen, report.error) == ("ok", 3, 0, None)
    assert progress == [report]
    tariffs, drills, visas = sorted(items(store), key=lambda i: ["New", "Dri", "Vis"].index(i.title[:3]))
    for item in (tariffs, drills, visas):
        assert item.source == "Wire" and item.source_kind == "feed" and item.feed_url == feed_url
        assert item.extraction == "trafilatura" and item.extraction_note is None
        assert item.language == "en"
    assert "Soybean exporters in the Midwest" in tariffs.text
    assert "Most read" not in tariffs.text and "All rights reserved" not in tariffs.text
    assert tariffs.url == urls["tariffs"]  # tracking parameter and fragment dropped
    assert tariffs.guid == "wire-1" and tariffs.author == "Jane Reporter"
    assert tariffs.site_name == "Example Wire"
    assert tariffs.published.replace(tzinfo=timezone.utc) == datetime(2026, 2, 10, 8, tzinfo=timezone.utc)
    assert drills.published.replace(tzinfo=timezone.utc) == datetime(2026, 2, 11, 8, 30, tzinfo=timezone.utc)
    assert "live-fire drills" in drills.text
    assert visas.guid is None and visas.undated  # no pubDate, and the page has no date either
    assert visas.key == f"url:{clean_link(urls['students'])}"


def test_second_run_is_a_304_that_parses_and_fetches_nothing(web, settings, store):
    urls = serve_pages(web)
    feed_url = web.route("/feed.xml", static(three_item_feed(urls), etag='"a"'))
    ingest_feeds(settings, store, [FeedSource(url=feed_url)])
    requests_before = len(web.requests)
    [report] = ingest_feeds(settings, store, [FeedSource(url=feed_url)])
    assert report.status == "not_modified" and report.items_new == 0
    assert len(web.requests) == requests_before + 1
    assert web.requests[-1].headers["if-none-match"] == '"a"'
    assert len(items(store)) == 3
    [row] = feed_health(store)
    assert row["health"] == "ok" and row["last_status"] == 304 and row["items_total"] == 3


def test_unchanged_body_without_validators_costs_no_parse(web, settings, store):
    urls = serve_pages(web)
    feed_url = web.route("/feed.xml", static(three_item_feed(urls)))
    ingest_feeds(settings, store, [FeedSource(url=feed_url)])
    [report] = ingest_feeds(settings, store, [FeedSource(url=feed_url)])
    assert report.status == "not_modified"
    assert web.hits("/news/tariffs") == 1


def test_a_changed_feed_stores_only_its_new_entry(web, settings, store):
    urls = serve_pages(web)
    feed_url = web.route("/feed.xml", static(three_item_feed(urls), etag='"a"'))
    ingest_feeds(settings, store, [FeedSource(url=feed_url)])
    more = rss(
        [
            {
                "title": "Brand new",
                "link": web.url("/news/new"),
                "guid": "wire-9",
                "content": "<p>" + "A long feed body about export controls. " * 10 + "</p>",
            }
        ]
    )
    web.route(
        "/feed.xml",
        static(
            three_item_feed(urls)[: -len(b"</channel></rss>")] + more.split(b"<language>en-us</language>")[1],
            etag='"b"',
        ),
    )
    [report] = ingest_feeds(settings, store, [FeedSource(url=feed_url)])
    assert (report.status, report.items_new, report.items_seen) == ("ok", 1, 3)
    assert web.hits("/news/tariffs") == 1  # known entries' pages are not fetched again
    new = [i for i in items(store) if i.title == "Brand new"][0]
    assert new.extraction == "feed" and "HTTP 404" in new.extraction_note
    assert new.text.startswith("A long feed body about export controls.")


def test_429_with_retry_after_sets_next_due_and_skips_until_then(web, settings, store):
    feed_url = web.route("/feed.xml", Response(429, b"", {"Retry-After": "120"}))
    before = datetime.now(timezone.utc)
    [report] = ingest_feeds(settings, store, [FeedSource(url=feed_url, name="Busy")])
    assert report.status == "error" and "HTTP 429" in report.error
    state = load_states(store, [feed_url])[feed_url]
    assert state.consecutive_failures == 1 and state.last_status == 429
    assert state.next_due >= before + timedelta(seconds=max(120, BACKOFF_BASE_S))
    [again] = ingest_feeds(settings, store, [FeedSource(url=feed_url, name="Busy")])
    assert again.status == "skipped" and web.hits("/feed.xml") == 1


def test_failures_back_off_exponentially_and_success_resets(web, settings, store):
    feed_url = web.route("/feed.xml", Response(500, b"down"))
    feed = FeedSource(url=feed_url)
    waits = []
    for _ in range(3):
        now = datetime.now(timezone.utc)
        [report] = ingest_feeds(settings, store, [feed], force=True)
        assert report.status == "error" and "HTTP 500" in report.error
        waits.append((load_states(store, [feed_url])[feed_url].next_due - now).total_seconds())
    assert [round(w / BACKOFF_BASE_S) for w in waits] == [1, 2, 4]
    web.route("/feed.xml", static(rss([{"title": "Back", "guid": "x", "description": "up again"}])))
    [report] = ingest_feeds(settings, store, [feed], force=True, max_items=5)
    assert report.status == "ok" and report.items_new == 1
    state = load_states(store, [feed_url])[feed_url]
    assert state.consecutive_failures == 0 and state.last_error is None


def test_500_then_success_within_a_run(web, settings, store):
    body = rss([{"title": "Survived", "guid": "s1", "description": "after a blip"}])
    feed_url = web.route("/feed.xml", sequence(Response(500, b"blip"), Response(200, body)))
    [report] = ingest_feeds(settings, store, [FeedSource(url=feed_url)], force=True)
    assert report.status == "ok" and report.items_new == 1 and web.hits("/feed.xml") == 2


def test_a_slow_or_broken_feed_does_not_hold_up_the_others(web, make_settings, store):
    good = web.route("/good.xml", static(rss([{"title": "Fine", "guid": "g1", "description": "ok"}])))
    feeds = [
        FeedSource(url=web.route("/slow.xml", Response(200, b"<rss/>", delay=3)), name="slow"),
        FeedSource(url=web.route("/huge.xml", Response(200, b"<rss>" + b" " * 200_000 + b"</rss>")), name="huge"),
        FeedSource(url=web.route("/loop.xml", Response(302, headers={"Location": "/loop.xml?again"})), name="loop"),
        FeedSource(url=web.url("/gone.xml"), name="gone"),
        FeedSource(url=good, name="good"),
    ]
    web.route("/loop.xml?again", Response(302, headers={"Location": "/loop.xml"}))
    started = time.monotonic()
    reports = {r.source: r for r in ingest_feeds(make_settings(max_bytes=64 * 1024, full_text=False), store, feeds)}
    assert time.monotonic() - started < 6
    assert reports["good"].status == "ok" and reports["good"].items_new == 1
    assert reports["slow"].status == "error" and "timeout" in reports["slow"].error
    assert reports["huge"].status == "error" and "limit" in reports["huge"].error
    assert reports["loop"].status == "error" and "redirect" in reports["loop"].error
    assert reports["gone"].status == "error" and "HTTP 404" in reports["gone"].error
    health = {row["name"]: row for row in feed_health(store)}
    assert health["slow"]["health"] == "failing" and health["good"]["health"] == "ok"
    assert all("\n" not in r.error for r in reports.values() if r.error)


def test_gzip_encoded_feed(web, settings, store):
    body = rss([{"title": "Compressed", "guid": "c1", "description": "gzip on the wire"}])
    feed_url = web.route("/feed.xml", static(body, gzip_body=True))
    [report] = ingest_feeds(settings, store, [FeedSource(url=feed_url)])
    assert report.status == "ok" and items(store)[0].title == "Compressed"


def test_charset_header_contradicting_the_document(web, settings, store):
    title = "Xí Jìnpíng meets the délégation — 习近平"
    utf8_doc = rss([{"title": title, "guid": "u1", "description": "ok"}])
    feed_a = web.route("/a.xml", static(utf8_doc, "application/rss+xml; charset=iso-8859-1"))
    # The other way round: bytes really in windows-1252, header right, declaration wrong.
    cp_doc = rss([{"title": "Café déjà vu", "guid": "w1", "description": "ok"}], encoding="windows-1252")
    cp_doc = cp_doc.replace(b'encoding="windows-1252"', b'encoding="utf-8"')
    feed_b = web.route("/b.xml", static(cp_doc, "application/rss+xml; charset=windows-1252"))
    reports = ingest_feeds(settings, store, [FeedSource(url=feed_a), FeedSource(url=feed_b)])
    assert [r.status for r in reports] == ["ok", "ok"]
    assert {i.title for i in items(store)} == {title, "Café déjà vu"}


def test_html_page_instead_of_a_feed_is_searched_for_its_feed(web, settings, store):
    body = rss([{"title": "Found via discovery", "guid": "d1", "description": "hello"}])
    feed_real = web.route("/real/feed.xml", static(body, etag='"d"'))
    homepage = (
        b"<!DOCTYPE html><html><head><title>Wire</title>"
        b'<link rel="alternate" type="application/rss+xml" title="Comments" href="/comments/feed">'
        b'<link rel="alternate" type="application/rss+xml" title="News" href="real/feed.xml">'
        b"</head><body><p>Welcome</p></body></html>"
    )
    home = web.route("/", static(homepage, HTML))
    feed = FeedSource(url=home, name="Wire home")
    [report] = ingest_feeds(settings, store, [feed])
    assert report.status == "ok" and report.items_new == 1
    assert load_states(store, [home])[home].resolved_url == feed_real
    [again] = ingest_feeds(settings, store, [feed], force=True)
    assert again.status == "not_modified"
    assert web.hits("/") == 1 and web.hits("/real/feed.xml") == 2 and web.hits("/comments/feed") == 0


def test_html_page_without_feed_links_is_a_clear_error(web, settings, store):
    url = web.route("/plain", static(b"<html><body><p>Just a page</p></body></html>", HTML))
    [report] = ingest_feeds(settings, store, [FeedSource(url=url)])
    assert report.status == "error" and report.error.startswith("not a feed: an HTML page with no")


def test_json_feed(web, settings, store):
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON Wire",
        "language": "en",
        "items": [
            {
                "id": "j1",
                "url": web.url("/news/strait"),
                "title": "JSON item",
                "content_text": "Short text.",
                "date_published": "2026-02-01T10:00:00-05:00",
                "authors": [{"name": "A. Writer"}],
            },
            {"id": 2, "title": "No link", "content_html": "<p>Only <b>HTML</b> here.</p>"},
        ],
    }
    serve_pages(web)
    url = web.route("/feed.json", static(json.dumps(doc).encode(), "application/feed+json"))
    [report] = ingest_feeds(settings, store, [FeedSource(url=url)])
    assert report.status == "ok" and report.items_new == 2 and report.source == "JSON Wire"
    by_title = {i.title: i for i in items(store)}
    first = by_title["JSON item"]
    assert first.extraction == "trafilatura" and "Taiwan Strait" in first.text
    assert first.published.replace(tzinfo=timezone.utc) == datetime(2026, 2, 1, 15, tzinfo=timezone.utc)
    assert first.author == "A. Writer" and first.guid == "j1"
    second = by_title["No link"]
    assert second.text == "Only HTML here." and second.extraction_note == "entry has no link"


def test_fallbacks_record_their_reason(web, settings, store):
    web.route("/robots.txt", Response(200, b"User-agent: *\nDisallow: /members/\n"))
    pdf = web.route("/doc.pdf", Response(200, b"%PDF-1.4", {"Content-Type": "application/pdf"}))
    members = web.route("/members/story", static(page("tariffs.html"), HTML))
    empty = web.route("/empty", static(b"<html><body><nav>menu</nav></body></html>", HTML))
    long_summary = "<p>" + "The feed carries the whole article in its description. " * 30 + "</p>"
    body = rss(
        [
            {"title": "Robots", "guid": "r", "link": members, "description": "Teaser one."},
            {"title": "PDF", "guid": "p", "link": pdf, "description": "Teaser two."},
            {"title": "Empty", "guid": "e", "link": empty, "content": long_summary},
            {"title": "Dead", "guid": "d", "link": "http://127.0.0.1:9/never", "description": "Teaser four."},
        ]
    )
    url = web.route("/feed.xml", static(body))
    [report] = ingest_feeds(settings, store, [FeedSource(url=url)])
    assert report.status == "ok" and report.items_new == 4
    notes = {i.title: (i.extraction, i.extraction_note, i.text) for i in items(store)}
    assert notes["Robots"][:2] == ("feed", "page not fetched: robots.txt of 127.0.0.1 disallows this page")
    assert notes["Robots"][2] == "Teaser one."
    assert notes["PDF"][:2] == ("feed", "page is application/pdf, not HTML")
    assert notes["Empty"][0] == "feed" and notes["Empty"][1] == "no article text found on the page"
    assert notes["Empty"][2].startswith("The feed carries the whole article")
    assert notes["Dead"][0] == "feed" and notes["Dead"][1].startswith("page not fetched:")
    assert web.hits("/members/story") == 0


def test_full_text_off_uses_feed_content(web, make_settings, store):
    urls = serve_pages(web)
    feed_url = web.route("/feed.xml", static(three_item_feed(urls)))
    ingest_feeds(make_settings(full_text=False), store, [FeedSource(url=feed_url)])
    assert {i.extraction for i in items(store)} == {"feed"}
    assert web.hits("/news/tariffs") == 0


def test_entry_identity_dates_and_duplicates(web, settings, store):
    future = http_date(time.time() + 30 * 86400)
    body = rss(
        [
            {"title": "Same guid", "guid": "dup", "description": "first"},
            {"title": "Same guid again", "guid": "dup", "description": "second"},
            {"title": "From the future", "guid": "f", "pubDate": future, "description": "scheduled"},
            {"title": "No guid, no link", "description": "identified by content"},
        ]
    )
    url = web.route("/feed.xml", static(body))
    before = datetime.now(timezone.utc)
    [report] = ingest_feeds(settings, store, [FeedSource(url=url)])
    assert report.items_new == 3
    by_title = {i.title: i for i in items(store)}
    assert "Same guid again" not in by_title
    assert by_title["Same guid"].key == f"guid:{url}#dup"
    published = by_title["From the future"].published.replace(tzinfo=timezone.utc)
    assert before <= published <= datetime.now(timezone.utc)
    assert by_title["No guid, no link"].key.startswith("hash:")
    assert by_title["No guid, no link"].undated


def test_same_article_in_two_feeds_is_stored_once(web, settings, store):
    urls = serve_pages(web)
    body = rss([{"title": "Shared", "link": urls["strait"], "description": "x"}])
    a = web.route("/a.xml", static(body))
    b = web.route("/b.xml", static(body.replace(b"Example Wire", b"Other Wire")))
    reports = ingest_feeds(settings, store, [FeedSource(url=a), FeedSource(url=b)])
    assert sorted(r.items_new for r in reports) == [0, 1]
    assert len(items(store)) == 1 and web.hits("/news/strait") == 1


def test_ttl_and_cache_control_set_a_minimum_interval(web, settings, store):
    ttl_feed = web.route("/ttl.xml", static(rss([{"title": "t", "guid": "t"}], extra_channel="<ttl>60</ttl>")))
    cc_feed = web.route("/cc.xml", static(rss([{"title": "c", "guid": "c"}]), **{"Cache-Control": "max-age=7200"}))
    plain = web.route("/plain.xml", static(rss([{"title": "p", "guid": "p"}])))
    feeds = [FeedSource(url=u) for u in (ttl_feed, cc_feed, plain)]
    ingest_feeds(settings, store, feeds)
    states = load_states(store, [ttl_feed, cc_feed, plain])
    assert states[ttl_feed].min_interval_s == 3600 and states[cc_feed].min_interval_s == 7200
    assert states[plain].min_interval_s is None
    again = ingest_feeds(settings, store, feeds)
    assert [r.status for r in again] == ["skipped", "skipped", "not_modified"]


def test_ssrf_refusal_when_private_addresses_are_not_allowed(web, make_settings, store):
    url = web.route("/feed.xml", static(rss([{"title": "secret", "guid": "s"}])))
    [report] = ingest_feeds(make_settings(allow_private_addresses=False), store, [FeedSource(url=url)])
    assert report.status == "error" and report.error.startswith("refused: 127.0.0.1 is a loopback address")
    assert web.requests == [] and items(store) == []


def test_pages_linked_from_a_feed_are_guarded_too(web, make_settings, store, monkeypatch):
    # The feed itself is allowed (as if public); the page it links to is on a private address.
    import flows.fetch.guard as guard

    real = guard.check_addresses

    def allow_only_the_feed_port(host, addresses):
        if host == "localhost":
            real(host, addresses)

    monkeypatch.setattr(guard, "check_addresses", allow_only_the_feed_port)
    port = web.base.rsplit(":", 1)[1]
    body = rss(
        [{"title": "Points inward", "guid": "in", "link": f"http://localhost:{port}/admin", "description": "A teaser."}]
    )
    url = web.route("/feed.xml", static(body))
    web.route("/admin", static(b"<html><body><p>internal</p></body></html>", HTML))
    [report] = ingest_feeds(make_settings(allow_private_addresses=False), store, [FeedSource(url=url)])
    assert report.status == "ok"
    [item] = items(store)
    assert item.extraction == "feed" and "refused: localhost resolves to loopback" in item.extraction_note
    assert web.hits("/admin") == 0 and web.hits("/robots.txt") == 0


def test_bozo_feed_is_kept_with_its_problem_recorded(web, settings, store):
    body = rss([{"title": "Still readable", "guid": "b1", "description": "fine"}]).replace(
        b"</channel>", b"<broken></channel>"
    )
    url = web.route("/feed.xml", static(body))
    [report] = ingest_feeds(settings, store, [FeedSource(url=url)])
    assert report.status == "ok" and report.items_new == 1
    [row] = feed_health(store)
    assert row["parse_problem"] and "mismatched tag" in row["parse_problem"]


def test_gzip_page_and_unknown_feed_are_handled(web, settings, store):
    gz = web.route(
        "/news/gz",
        Response(200, gzip.compress(page("strait.html")), {"Content-Type": HTML, "Content-Encoding": "gzip"}),
    )
    url = web.route("/feed.xml", static(rss([{"title": "Zipped page", "guid": "z", "link": gz}])))
    garbage = web.route("/garbage", Response(200, b"\x00\x01binary junk", {"Content-Type": "application/octet-stream"}))
    reports = ingest_feeds(settings, store, [FeedSource(url=url), FeedSource(url=garbage)])
    assert reports[0].status == "ok" and items(store)[0].extraction == "trafilatura"
    assert reports[1].status == "error" and reports[1].error.startswith("not a feed")
