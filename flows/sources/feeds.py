"""Feeds (placeholder until the full fetcher lands): fetch each feed once, parse with feedparser."""

from __future__ import annotations

import logging
from typing import Callable

import feedparser
import httpx

from flows.config import FeedSource, Settings
from flows.models import Article, SourceReport
from flows.store import Store
from flows.store.items import upsert_items

log = logging.getLogger(__name__)


def ingest_feeds(settings: Settings, store: Store, feeds: list[FeedSource], *, force: bool = False,
                 max_items: int | None = None,
                 on_progress: Callable[[SourceReport], None] | None = None) -> list[SourceReport]:
    reports = []
    timeout = httpx.Timeout(settings.fetch.read_timeout, connect=settings.fetch.connect_timeout)
    with httpx.Client(timeout=timeout, follow_redirects=True,
                      headers={"User-Agent": settings.fetch.user_agent}) as client:
        for feed in feeds:
            try:
                response = client.get(feed.url)
                response.raise_for_status()
                parsed = feedparser.parse(response.content, response_headers=dict(response.headers))
                articles = [
                    Article(key=e.get("id") or e.get("link"), source=feed.label, source_kind="feed",
                            url=e.get("link", ""), title=e.get("title", ""),
                            text=e.get("summary", ""), feed_url=feed.url, extraction="feed")
                    for e in parsed.entries[:max_items] if e.get("id") or e.get("link")
                ]
                result = upsert_items(store, articles)
                report = SourceReport(feed.label, "ok", len(result.new_ids), len(result.seen_ids))
            except httpx.HTTPError as e:
                report = SourceReport(feed.label, "error", error=f"{type(e).__name__}: {e}")
            reports.append(report)
            if on_progress:
                on_progress(report)
    return reports
