"""Pages that could not be had are tried again in later runs: the text improves once the site is
back, the item goes back to the classifier, and a page that keeps failing is given up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from feedtestkit import page, rss
from flows.config import FeedSource
from flows.sources.feeds import ingest_feeds
from flows.store.items import utcnow
from flows.store.page_retries import RETRY_DELAYS, pending_page_retries
from flows.store.schema import Item, PageRetry
from webserver import Response, sequence, static

HTML = "text/html; charset=utf-8"
DOWN = Response(503, b"down for maintenance", {"Content-Type": "text/plain"})


def the_item(store) -> Item:
    with store.session() as s:
        return s.scalars(select(Item)).one()


def retry_row(store) -> PageRetry | None:
    with store.session() as s:
        return s.scalars(select(PageRetry)).one_or_none()


def make_due(store) -> None:
    """Let the retry's delay pass (the store's clock is the wall clock)."""
    with store.session() as s:
        s.execute(update(PageRetry).values(next_attempt=utcnow() - timedelta(seconds=1)))


def one_entry_feed(web, link: str) -> str:
    return web.route(
        "/feed.xml",
        static(
            rss([{"title": "New tariff threats", "guid": "wire-1", "link": link, "description": "Tariffs, again."}]),
            etag='"a"',
        ),
    )


def test_a_page_that_was_down_is_fetched_later_and_the_item_reclassified(web, settings, store):
    link = web.route(
        "/news/tariffs", sequence(DOWN, DOWN, DOWN, DOWN, Response(200, page("tariffs.html"), {"Content-Type": HTML}))
    )
    feed_url = one_entry_feed(web, link)
    before = utcnow()
    ingest_feeds(settings, store, [FeedSource(url=feed_url)])
    item = the_item(store)
    assert (item.extraction, item.text) == ("feed", "Tariffs, again.")
    assert item.extraction_note.startswith("page not fetched: HTTP 503")
    row = retry_row(store)
    assert row.attempts == 1 and row.url == link and "503" in row.last_error
    assert row.next_attempt.replace(tzinfo=before.tzinfo) >= before + RETRY_DELAYS[0] - timedelta(seconds=5)

    # Not due yet: the next run does not touch the page.
    hits = web.hits("/news/tariffs")
    ingest_feeds(settings, store, [FeedSource(url=feed_url)], force=True)
    assert web.hits("/news/tariffs") == hits

    # Due, still down (two requests: the inline retry of a 503): tried again later.
    make_due(store)
    ingest_feeds(settings, store, [FeedSource(url=feed_url)], force=True)
    assert web.hits("/news/tariffs") == hits + 2
    assert retry_row(store).attempts == 2

    # Due, and back: the page's text replaces the feed's, and the item waits for the classifier.
    with store.session() as s:
        s.execute(update(Item).values(classifier_version="v-test", relevant=True))
    make_due(store)
    ingest_feeds(settings, store, [FeedSource(url=feed_url)], force=True)
    item = the_item(store)
    assert item.extraction == "trafilatura" and item.extraction_note is None
    assert "Soybean exporters in the Midwest" in item.text
    assert item.word_count == len(item.text.split()) and item.author == "Jane Reporter"
    assert item.classifier_version is None
    assert retry_row(store) is None and pending_page_retries(store) == 0


def test_a_page_that_keeps_failing_is_given_up_after_the_last_try(web, settings, store):
    link = web.route("/news/gone", DOWN)
    feed_url = one_entry_feed(web, link)
    ingest_feeds(settings, store, [FeedSource(url=feed_url)])
    for attempts in range(2, len(RETRY_DELAYS) + 1):
        make_due(store)
        ingest_feeds(settings, store, [FeedSource(url=feed_url)], force=True)
        assert retry_row(store).attempts == attempts
    make_due(store)
    ingest_feeds(settings, store, [FeedSource(url=feed_url)], force=True)
    assert retry_row(store) is None
    item = the_item(store)
    assert item.extraction == "feed" and item.text == "Tariffs, again."
    assert item.extraction_note.endswith(f"(given up after {len(RETRY_DELAYS) + 1} tries)")


def test_a_page_that_turns_into_a_404_is_given_up_at_once(web, settings, store):
    link = web.route("/news/moved", sequence(DOWN, DOWN, Response(404, b"not here")))
    feed_url = one_entry_feed(web, link)
    ingest_feeds(settings, store, [FeedSource(url=feed_url)])
    make_due(store)
    ingest_feeds(settings, store, [FeedSource(url=feed_url)], force=True)
    assert retry_row(store) is None
    assert "HTTP 404" in the_item(store).extraction_note and "given up after 2 tries" in the_item(store).extraction_note


def test_permanent_failures_are_not_retried(web, settings, store):
    web.route("/robots.txt", Response(200, b"User-agent: *\nDisallow: /members/\n"))
    members = web.route("/members/story", static(page("tariffs.html"), HTML))
    missing = web.route("/news/missing", Response(404, b"no such page"))
    body = rss(
        [
            {"title": "Robots", "guid": "r", "link": members, "description": "Teaser one."},
            {"title": "Missing", "guid": "m", "link": missing, "description": "Teaser two."},
        ]
    )
    ingest_feeds(settings, store, [FeedSource(url=web.route("/feed.xml", static(body)))])
    assert pending_page_retries(store) == 0


def test_robots_txt_that_could_not_be_had_is_a_temporary_refusal(web, settings, store):
    web.route("/robots.txt", DOWN)
    link = web.route("/news/tariffs", static(page("tariffs.html"), HTML))
    feed_url = one_entry_feed(web, link)
    ingest_feeds(settings, store, [FeedSource(url=feed_url)])
    assert "robots.txt of 127.0.0.1 could not be fetched" in the_item(store).extraction_note
    assert retry_row(store).attempts == 1
    web.route("/robots.txt", Response(404, b""))  # no robots.txt: everything allowed
    make_due(store)
    ingest_feeds(settings, store, [FeedSource(url=feed_url)], force=True)
    assert the_item(store).extraction == "trafilatura" and retry_row(store) is None
