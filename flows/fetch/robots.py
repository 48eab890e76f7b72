"""robots.txt for article pages (feeds are meant to be fetched by readers; pages are crawled).

Rules per RFC 9309: a robots.txt that is missing (4xx) allows everything; one that cannot be
had (5xx, timeout, network error) disallows everything for this run; a Crawl-delay spaces our
requests to that host. Each origin's file is fetched once per run, however many pages ask.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from flows.fetch.errors import FetchError

ROBOTS_AGENT = "uschina-digest"
ROBOTS_MAX_BYTES = 512 * 1024


class Fetcher(Protocol):
    """What robots.txt needs of `flows.fetch.client.Fetcher` (which owns the rules), so this
    module does not import the client that imports it."""

    async def get(self, url: str, *, accept: str = ..., max_bytes: int | None = None) -> Any: ...

    def set_crawl_delay(self, host: str, seconds: float) -> None: ...


@dataclass(frozen=True)
class Refusal:
    reason: str
    temporary: bool  # robots.txt could not be had this time (rather than: it disallows the page)


@dataclass
class _Origin:
    rules: RobotFileParser
    unreachable: str | None = None  # why everything is disallowed, when the file could not be had


class RobotsRules:
    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._origins: dict[str, asyncio.Task[_Origin]] = {}

    async def refusal(self, url: str) -> Refusal | None:
        """Why robots.txt forbids fetching `url`, or None when it may be fetched."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        task = self._origins.get(origin)
        if task is None:
            task = self._origins[origin] = asyncio.ensure_future(self._load(origin, parts.hostname or ""))
        state = await task
        if state.unreachable:
            return Refusal(f"robots.txt of {parts.hostname} could not be fetched ({state.unreachable})", True)
        if not state.rules.can_fetch(ROBOTS_AGENT, url):
            return Refusal(f"robots.txt of {parts.hostname} disallows this page", False)
        return None

    async def _load(self, origin: str, host: str) -> _Origin:
        rules = RobotFileParser(origin + "/robots.txt")
        try:
            result = await self._fetcher.get(origin + "/robots.txt", accept="text/plain", max_bytes=ROBOTS_MAX_BYTES)
        except FetchError as exc:
            if exc.kind == "refused":
                raise
            if exc.kind == "too_large" or (exc.kind == "http" and exc.status and 400 <= exc.status < 500):
                rules.allow_all = True
                return _Origin(rules)
            rules.disallow_all = True
            return _Origin(rules, unreachable=str(exc))
        rules.parse(result.body.decode("utf-8", errors="replace").splitlines())
        delay = rules.crawl_delay(ROBOTS_AGENT)
        if delay:
            self._fetcher.set_crawl_delay(host, float(delay))
        return _Origin(rules)
