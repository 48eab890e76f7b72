"""Feeds as a source: fetch every due feed, read its entries, pull new entries' full text, store.

`ingest_feeds` is plain Python (no Prefect) with asyncio inside. For each due feed, at once:
conditional GET (a 304 or an unchanged body costs no parsing) → parse in a worker process →
skip entries already stored → fetch each new entry's page (robots.txt, same politeness) and
extract its text in a worker process, falling back to the feed's own content with the reason
recorded → store → update the feed's health. A failing feed never raises and never holds up
the others; it gets one clear error line in its report and backs off.

Entry identity: the guid, else the canonical link (courlan), else a hash of the content.
Times are UTC; an undated entry has `published=None` (the store flags it and uses first-seen);
a date in the future is clamped to now.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

import nh3

from flows.config import FeedSource, Settings
from flows.sources.extract import EXTRACT_TIMEOUT_S, PageText, extract_page, feed_text, language_tag
from flows.fetch import Fetcher, FetchError, FetchResult
from flows.fetch.client import host_key
from flows.fetch.charset import media_type
from flows.records import Article, SourceReport, content_hash, item_id_for
from flows.sources.feedparse import HTML_TYPES, FeedEntry, NotAFeed, ParsedFeed, parse_feed
from flows.sources.listpage import parse_list_page
from flows.store.db import Store
from flows.store.feeds import FeedState, is_due, load_states, mark_failure, mark_success, save_state
from flows.store.items import known_ids, upsert_items, utcnow
from flows.store.page_retries import (
    DuePage,
    due_page_retries,
    page_retry_failed,
    page_retry_succeeded,
    schedule_page_retries,
)
from flows.sources.workers import CpuPool, WorkerError

log = logging.getLogger(__name__)

PARSE_TIMEOUT_S = 60.0
FUTURE_TOLERANCE = timedelta(minutes=10)
MAX_DISCOVERED_TRIED = 3
SUMMARY_MAX_CHARS = 20_000
FEED_TEXT_PREFERRED_WORDS = 150  # feed content this long may be the whole article
PAGE_RETRIES_PER_RUN = 200  # pages that failed in earlier runs, tried again per run
PARSE_PRIORITY = 1 << 30  # a feed's parse goes first in the worker queue: it unblocks fetching
_TAG = re.compile(r"<[^>]*>")
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.I)


# ---------------------------------------------------------------- identity, URLs, times


def clean_link(url: str) -> str:
    """The link as stored and shown: tracking parameters and fragment dropped, host and query
    normalized (courlan), still a URL to open. Story matching goes further with its own identity
    key (`flows.stories.canonical.canonical_url`: no scheme, `www.`/AMP stripped), which is not a
    link; item keys keep this form so existing items keep their ids."""
    import courlan

    try:
        normalized = courlan.normalize_url(url.strip())
    except Exception:
        normalized = url.strip()
    parts = urlsplit(normalized)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def entry_key(entry: FeedEntry, feed_url: str, text: str = "") -> str:
    """Stable identity: guid (scoped to the feed unless it is itself a URL), canonical link, hash."""
    if entry.guid:
        if entry.guid.startswith(("http://", "https://")):
            return f"guid:{entry.guid}"
        return f"guid:{feed_url}#{entry.guid}"
    if entry.link:
        return f"url:{clean_link(entry.link)}"
    return f"hash:{content_hash(entry.title + chr(10) + text)}"


def clamp_published(published: datetime | None, now: datetime) -> datetime | None:
    """UTC; a date in the future (bad clocks, scheduled posts) becomes now."""
    if published is None:
        return None
    published = published.astimezone(timezone.utc)
    return now if published > now + FUTURE_TOLERANCE else published


def _page_date(page: PageText | None) -> datetime | None:
    if page is None or not page.date:
        return None
    try:
        when = datetime.fromisoformat(page.date)
    except ValueError:
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def http_min_interval(headers: dict[str, str]) -> int | None:
    """The refresh interval HTTP caching headers ask for (Cache-Control max-age, else Expires)."""
    cache_control = headers.get("cache-control", "")
    if re.search(r"no-cache|no-store", cache_control, re.I):
        return 0
    match = _MAX_AGE.search(cache_control)
    if match:
        return int(match.group(1))
    if headers.get("expires"):
        try:
            expires = parsedate_to_datetime(headers["expires"])
            served = parsedate_to_datetime(headers["date"]) if headers.get("date") else utcnow()
            return max(int((expires - served).total_seconds()), 0)
        except (TypeError, ValueError):
            return None
    return None


def _min_interval(headers: dict[str, str], parsed: ParsedFeed | None) -> int | None:
    candidates = [v for v in (http_min_interval(headers), parsed.ttl_s if parsed else None) if v is not None]
    return max(candidates) if candidates else None


# ---------------------------------------------------------------- one run


class _Run:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        fetcher: Fetcher,
        pool: CpuPool,
        max_items: int,
        on_progress: Callable[[SourceReport], None] | None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.pool = pool
        self.max_items = max_items
        self.on_progress = on_progress
        self.claimed: set[str] = set()  # item ids some feed of this run is already handling
        self.page_failures: dict[str, tuple[str, str]] = {}  # item id -> (page URL, why): try later
        # Pages still to fetch per host. A site with many pages left gets its extractions done
        # first: at `max_per_host` requests at a time it is the one that would finish last.
        self.pages_left: Counter[str] = Counter()

    async def feed(self, feed: FeedSource, state: FeedState) -> SourceReport:
        label = feed.name or state.title or feed.url
        try:
            report = await self._feed(feed, state)
        except Exception as exc:  # a bug or a store problem: still one feed's error, not the run's
            log.exception("feed %s failed", feed.url)
            report = self._fail(state, label, f"internal error: {type(exc).__name__}: {exc}")
        if self.on_progress is not None:
            try:
                self.on_progress(report)
            except Exception:
                log.exception("progress callback failed")
        return report

    def _fail(
        self, state: FeedState, label: str, error: str, *, status: int | None = None, retry_after: float | None = None
    ) -> SourceReport:
        error = " ".join(error.split())[:500]
        mark_failure(state, utcnow(), error=error, status=status, retry_after_s=retry_after)
        try:
            save_state(self.store, state)
        except Exception:
            log.exception("could not save the state of feed %s", state.url)
        return SourceReport(source=label, status="error", error=error)

    async def _fetch_and_parse(
        self, url: str, state: FeedState | None, page: FeedSource | None = None
    ) -> tuple[FetchResult, ParsedFeed | None]:
        """Fetch (conditionally when `state` is given) and parse; parsed is None when unchanged.
        With `page` (a source of type page), the body is a list page whose article links are read."""
        result = await self.fetcher.get(
            url, etag=state.etag if state else None, last_modified=state.last_modified if state else None
        )
        if result.not_modified:
            return result, None
        if state is not None and hashlib.sha256(result.body).hexdigest() == state.body_hash:
            return result, None
        if page is not None:
            parser = functools.partial(parse_list_page, links=page.links)
        else:
            parser = parse_feed
        parsed = await self.pool.run(
            parser,
            result.body,
            result.final_url,
            result.headers,
            timeout=PARSE_TIMEOUT_S,
            passthrough=(NotAFeed,),
            priority=PARSE_PRIORITY,
        )
        return result, parsed

    async def _feed(self, feed: FeedSource, state: FeedState) -> SourceReport:
        label = feed.name or state.title or feed.url
        state.name = feed.name
        try:
            result, parsed = await self._fetch_and_parse(
                state.fetch_url, state, page=feed if feed.type == "page" else None
            )
            if parsed is not None and parsed.kind == "html":
                result, parsed = await self._discover(parsed.alternates)
            if parsed is not None and parsed.problem and not state.parse_problem and feed.type == "feed":
                result, parsed = await self._confirm_ill_formed(result, parsed)
        except FetchError as exc:
            if state.resolved_url and exc.kind == "http" and exc.status in (404, 410):
                state.resolved_url = None  # the discovered address is gone: look again next time
            return self._fail(state, label, str(exc), status=exc.status, retry_after=exc.retry_after)
        except NotAFeed as exc:
            return self._fail(state, label, f"not a feed: {exc}")
        except WorkerError as exc:
            return self._fail(state, label, f"could not parse the feed: {exc}")

        if result.permanent_url:
            state.resolved_url = result.permanent_url
        if parsed is None:  # 304, or the same bytes as last time
            state.etag = result.headers.get("etag") or state.etag
            state.last_modified = result.headers.get("last-modified") or state.last_modified
            mark_success(state, utcnow(), status=result.status, min_interval_s=_min_interval(result.headers, None))
            save_state(self.store, state)
            return SourceReport(source=label, status="not_modified")

        label = feed.name or parsed.title or feed.url
        new_ids, seen = await self._entries(feed, label, parsed)
        state.title = parsed.title or state.title
        state.etag = result.headers.get("etag")
        state.last_modified = result.headers.get("last-modified")
        state.body_hash = hashlib.sha256(result.body).hexdigest()
        state.parse_problem = parsed.problem
        mark_success(
            state,
            utcnow(),
            status=result.status,
            min_interval_s=_min_interval(result.headers, parsed),
            new_items=new_ids,
        )
        save_state(self.store, state)
        return SourceReport(source=label, status="ok", items_new=new_ids, items_seen=seen)

    async def _confirm_ill_formed(self, result: FetchResult, parsed: ParsedFeed) -> tuple[FetchResult, ParsedFeed]:
        """Fetch again a feed not known to be ill-formed that now parses with a problem.

        A body corrupted in transit parses "with a problem" too, and its entries are garbage:
        mangled guids and links become new, bogus items (the soak stored ~25 per 1,600 faults).
        The same bytes twice mean the feed itself is ill-formed and are kept; a clean second
        copy is used instead; two different broken copies are a transient failure.
        """
        again, reparsed = await self._fetch_and_parse(result.url, None)
        if reparsed is not None and not reparsed.problem:
            return again, reparsed
        if again.body == result.body:
            return result, parsed
        raise FetchError(
            "network",
            f"two fetches gave different ill-formed bodies ({parsed.problem}); not trusted this run",
            url=result.url,
        )

    async def _discover(self, alternates: list[str]) -> tuple[FetchResult, ParsedFeed]:
        """The first feed among an HTML page's declared feed links; its URL becomes the feed's."""
        last: Exception | None = None
        for url in alternates[:MAX_DISCOVERED_TRIED]:
            try:
                result, parsed = await self._fetch_and_parse(url, None)
            except (FetchError, NotAFeed, WorkerError) as exc:
                last = exc
                continue
            if parsed is not None and parsed.kind != "html":
                result.permanent_url = result.final_url
                return result, parsed
        if isinstance(last, FetchError):
            raise last
        raise NotAFeed(f"an HTML page whose feed links do not work ({last or 'no feed found'})")

    async def _entries(self, feed: FeedSource, label: str, parsed: ParsedFeed) -> tuple[int, int]:
        """Store the feed's new entries; returns (new, already known)."""
        keyed: dict[str, tuple[str, FeedEntry]] = {}
        for entry in parsed.entries[: self.max_items]:
            if not (entry.title or entry.link or entry.content_html or entry.content_text or entry.summary_html):
                continue
            key = entry_key(entry, feed.url, entry.content_text or entry.content_html or entry.summary_html or "")
            keyed.setdefault(item_id_for(key), (key, entry))
        known = known_ids(self.store, list(keyed))
        fresh = {i: ke for i, ke in keyed.items() if i not in known and i not in self.claimed}
        self.claimed.update(fresh)
        # A feed's pages are mostly on one host, which takes `max_per_host` requests at a time;
        # a few more in flight keep it busy while the rest wait here, not holding memory for
        # fetched pages that extraction has not caught up with.
        page_slots = asyncio.Semaphore(2 * self.settings.fetch.max_per_host)
        if self.settings.fetch.full_text:
            self.pages_left.update(host_key(entry.link) for _, entry in fresh.values() if entry.link)
        articles = await asyncio.gather(
            *(self._article(feed, label, parsed, entry, key, page_slots) for key, entry in fresh.values())
        )
        stored = upsert_items(self.store, articles)
        schedule_page_retries(
            self.store, [(i, *self.page_failures.pop(i)) for i in stored.new_ids if i in self.page_failures], utcnow()
        )
        return len(stored.new_ids), len(keyed) - len(stored.new_ids)

    async def _page(self, link: str, want_date: bool) -> tuple[PageText | None, str | None, str | None, bool]:
        """(extracted page, final URL, why not, whether a later run may do better) for a link."""
        try:
            result = await self.fetcher.get_page(link)
        except FetchError as exc:
            return None, None, f"page not fetched: {exc}", exc.temporary
        kind = media_type(result.content_type)
        if kind and kind not in HTML_TYPES:
            return None, result.final_url, f"page is {kind}, not HTML", False
        try:
            page = await self.pool.run(
                functools.partial(extract_page, want_date=want_date),
                result.body,
                result.final_url,
                result.content_type,
                timeout=EXTRACT_TIMEOUT_S,
                priority=self.pages_left[host_key(link)],
            )
        except WorkerError as exc:
            return None, result.final_url, f"extraction failed: {exc}", False
        if page is None:
            return None, result.final_url, "no article text found on the page", False
        return page, result.final_url, None, False

    async def _article(
        self,
        feed: FeedSource,
        label: str,
        parsed: ParsedFeed,
        entry: FeedEntry,
        key: str,
        page_slots: asyncio.Semaphore,
    ) -> Article:
        page, final_url, note = None, None, None
        if not self.settings.fetch.full_text:
            note = "full text is off (fetch.full_text: false)"
        elif not entry.link:
            note = "entry has no link"
        else:
            async with page_slots:
                try:
                    page, final_url, note, temporary = await self._page(entry.link, want_date=entry.published is None)
                finally:
                    self.pages_left[host_key(entry.link)] -= 1
            if temporary:
                self.page_failures[item_id_for(key)] = (entry.link, note or "")
        text, extraction = page.text if page else "", "trafilatura" if page else "feed"
        # The feed's own text is needed when there is no page text, or when it may be the whole
        # article and the page's text much shorter. A word count of the raw HTML (an upper
        # bound of the cleaned text's) rules that out cheaply for most entries.
        raw = entry.content_html or entry.content_text or entry.summary_html or ""
        page_words = len(text.split())
        raw_words = len(_TAG.sub(" ", raw).split())
        if page is None or prefer_feed_text(page_words, raw_words):
            try:
                own_text = await self.pool.run(
                    feed_text, entry.content_html, entry.content_text, entry.summary_html, timeout=EXTRACT_TIMEOUT_S
                )
            except WorkerError as exc:
                own_text = ""
                note = (note + "; " if note else "") + f"the feed's own text could not be cleaned: {exc}"
            feed_words = len(own_text.split())
            if page is None:
                text = own_text
            elif prefer_feed_text(page_words, feed_words):
                note = (
                    f"the feed's content is longer than the page's extracted text ({feed_words} vs {page_words} words)"
                )
                text, extraction = own_text, "feed"
        if not text:
            text = entry.title
            note = (note + "; " if note else "") + "no text in the feed either: title only"
        now = utcnow()
        # Full-content feeds put whole articles in the summary; a summary is a preview.
        summary = nh3.clean(entry.summary_html[:SUMMARY_MAX_CHARS]) if entry.summary_html else None
        link = final_url or entry.link
        return Article(
            key=key,
            source=label,
            source_kind="feed",
            url=clean_link(link) if link else (parsed.link or feed.url),
            title=entry.title or (page.title if page else None) or "(untitled)",
            text=text,
            published=clamp_published(entry.published or _page_date(page), now),
            language=(page.language if page else None) or language_tag(entry.language) or language_tag(parsed.language),
            author=entry.author or (page.author if page else None),
            site_name=(page.site_name if page else None) or parsed.title,
            guid=entry.guid,
            feed_url=feed.url,
            extraction=extraction,
            extraction_note=note,
            summary_html=summary,
        )

    async def retry_pages(self, now: datetime) -> dict[str, int]:
        """Try again the pages of earlier runs' items that could not be had then (at most
        `PAGE_RETRIES_PER_RUN`); returns how many were fetched, will be tried again, were given up."""
        if not self.settings.fetch.full_text:
            return {}
        due = due_page_retries(self.store, now, PAGE_RETRIES_PER_RUN)
        outcomes = await asyncio.gather(*(self._retry_page(page, now) for page in due))
        counts = {outcome: outcomes.count(outcome) for outcome in set(outcomes)}
        if due:
            log.info("pages of earlier items tried again: %s", ", ".join(f"{n} {o}" for o, n in sorted(counts.items())))
        return counts

    async def _retry_page(self, due: DuePage, now: datetime) -> str:
        page, final_url, note, temporary = await self._page(due.url, want_date=due.undated)
        page_words, feed_words = (len(page.text.split()) if page else 0), len(due.text.split())
        if page is None or prefer_feed_text(page_words, feed_words):
            why = note or (
                f"the feed's content is longer than the page's extracted text ({feed_words} vs {page_words} words)"
            )
            gave_up = page_retry_failed(self.store, due, why, now, temporary)
            return "given up" if gave_up else "failing"
        values = {"extraction": "trafilatura", "extraction_note": None}
        values.update(
            {
                k: v
                for k, v in (("language", page.language), ("author", page.author), ("site_name", page.site_name))
                if v
            }
        )
        published = clamp_published(_page_date(page), now) if due.undated else None
        if published is not None:
            values.update(published=published, undated=False)
        page_retry_succeeded(self.store, due.item_id, page.text, values)
        return "fetched"


def prefer_feed_text(page_words: int, feed_words: int) -> bool:
    """Whether the feed's own content (`feed_words` long) is the fuller telling: it may be the
    whole article, and the page gave much less (a teaser, a paywall, the wrong block)."""
    return feed_words >= FEED_TEXT_PREFERRED_WORDS and page_words < 0.6 * feed_words


async def _ingest(
    settings: Settings,
    store: Store,
    feeds: list[FeedSource],
    force: bool,
    max_items: int,
    on_progress: Callable[[SourceReport], None] | None,
) -> list[SourceReport]:
    unique = list({f.url: f for f in feeds}.values())
    states = load_states(store, [f.url for f in unique])
    now = utcnow()
    reports: dict[str, SourceReport] = {}
    due = []
    for feed in unique:
        if force or is_due(states[feed.url], now):
            due.append(feed)
        else:
            reports[feed.url] = SourceReport(source=feed.name or states[feed.url].title or feed.url, status="skipped")
            if on_progress is not None:
                on_progress(reports[feed.url])
    with CpuPool() as pool:
        async with Fetcher(settings.fetch) as fetcher:
            run = _Run(settings, store, fetcher, pool, max_items, on_progress)
            done = await asyncio.gather(*(run.feed(f, states[f.url]) for f in due))
            try:
                await run.retry_pages(utcnow())
            except Exception as exc:  # the feeds are done and stored; a retry pass never fails the run
                log.warning("pages of earlier items could not be tried again: %s: %s", type(exc).__name__, exc)
    reports.update({f.url: r for f, r in zip(due, done)})
    return [reports[f.url] for f in unique]


def ingest_feeds(
    settings: Settings,
    store: Store,
    feeds: list[FeedSource],
    *,
    force: bool = False,
    max_items: int | None = None,
    on_progress: Callable[[SourceReport], None] | None = None,
) -> list[SourceReport]:
    """Fetch every due feed concurrently and store its new entries; one report per feed.

    `force` fetches feeds that are not due yet (still conditionally: unchanged feeds cost a 304).
    `max_items` caps the entries read per feed (default `fetch.max_items_per_feed`). Never raises
    for a feed's failure; must not be called from inside a running event loop.
    """
    if not feeds:
        return []
    limit = max_items if max_items is not None else settings.fetch.max_items_per_feed
    return asyncio.run(_ingest(settings, store, feeds, force, limit, on_progress))
