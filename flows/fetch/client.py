"""A polite HTTP client for feeds and article pages.

Politeness and safety are properties of the client, not of its callers: a global limit and a
per-host limit on concurrent requests, connect/read timeouts plus an overall deadline, a body
size limit enforced while streaming (after decompression, so a gzip bomb stops at the limit),
redirects followed one hop at a time (scheme-checked, counted, loops detected) with the SSRF
guard on every connection, `Retry-After` honoured per host, conditional GET, one retry of a
transient failure, and robots.txt for pages.
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import certifi
import httpcore
import httpx

from flows.config import FetchSettings
from flows.fetch.guard import BlockedAddressError, GuardedNetworkBackend

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, text/html;q=0.5, */*;q=0.1"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"

RETRY_DELAY_S = 0.5          # pause before the one retry of a transient failure
MAX_INLINE_RETRY_AFTER_S = 2.0   # a Retry-After up to this is waited out within the run
MAX_HOST_WAIT_S = 30.0       # longer waits for a host (Retry-After, Crawl-delay) defer the request
MAX_RETRY_AFTER_S = 7 * 24 * 3600
ROBOTS_MAX_BYTES = 512 * 1024
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_HOST_POOLS = 64          # hosts whose idle keep-alive connections are kept open


class FetchError(Exception):
    """A fetch that did not produce a usable response, with a one-line reason.

    `kind` is one of: refused (SSRF guard, bad scheme), timeout, too_large, redirects, http,
    network, robots, deferred (the host asked us to wait longer than a run should).
    """

    def __init__(self, kind: str, message: str, *, url: str, status: int | None = None,
                 retry_after: float | None = None, temporary: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.url = url
        self.status = status
        self.retry_after = retry_after
        self._temporary = temporary

    @property
    def transient(self) -> bool:
        """Worth one more try within this run (a dropped connection, a 5xx, a 429)."""
        return self.kind == "network" or (self.kind == "http" and self.status in TRANSIENT_STATUSES)

    @property
    def temporary(self) -> bool:
        """Worth trying again in a later run: the server was down, slow or asked us to wait, as
        opposed to a refusal, a 404 or a page too large, which the next run would meet again."""
        return self._temporary or self.transient or self.kind in ("timeout", "deferred")


@dataclass
class FetchResult:
    url: str                     # as requested
    final_url: str               # after redirects
    status: int
    headers: dict[str, str]      # lower-case names
    body: bytes
    redirects: list[str] = field(default_factory=list)
    permanent_url: str | None = None   # where every hop was a permanent redirect, the new address

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def host_key(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _check_url(url: str, requested: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError("refused", f"refused: {parts.scheme or 'no'} scheme in {url[:200]}", url=requested)
    if not parts.hostname:
        raise FetchError("refused", f"refused: no host in {url[:200]}", url=requested)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose network backend is the SSRF guard.

    httpx offers no argument for a custom network backend, so the pool it builds is replaced by
    one built with the same limits and the guard; everything else is httpx's own code.
    """

    def __init__(self, *, allow_private: bool, limits: httpx.Limits, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=GuardedNetworkBackend(allow_private),
        )


class _PerHostTransport(httpx.AsyncBaseTransport):
    """A small connection pool per host instead of one large one.

    httpcore's pool rescans every connection it holds on each request (quadratic in its size);
    pools of `max_per_host` connections keep that cost flat. Pools of hosts not used lately are
    closed beyond `MAX_HOST_POOLS`, so a run over many hosts does not hoard sockets.
    """

    def __init__(self, *, allow_private: bool, per_host: int) -> None:
        self._allow_private = allow_private
        self._limits = httpx.Limits(max_connections=per_host, max_keepalive_connections=per_host,
                                    keepalive_expiry=30)
        self._ssl = ssl.create_default_context(cafile=certifi.where())
        self._pools: dict[str, _GuardedTransport] = {}     # least recently used first

    def _pool(self, host: str) -> _GuardedTransport:
        pool = self._pools.pop(host, None) or _GuardedTransport(
            allow_private=self._allow_private, limits=self._limits, ssl_context=self._ssl)
        self._pools[host] = pool
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._pool(request.url.host.lower()).handle_async_request(request)

    async def close_idle(self, keep: int, busy: set[str]) -> None:
        for host in list(self._pools)[: max(len(self._pools) - keep, 0)]:
            pool = self._pools.pop(host, None) if host not in busy else None
            if pool is not None:
                await pool.aclose()

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


@dataclass
class _Host:
    slots: asyncio.Semaphore
    active: int = 0              # requests in flight
    not_before: float = 0.0      # monotonic time before which the host asked not to be contacted
    spacing: float = 0.0         # robots.txt Crawl-delay, seconds between request starts
    next_start: float = 0.0


class Fetcher:
    """One per run: `async with Fetcher(settings.fetch) as fetcher: await fetcher.get(url)`."""

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self._global = asyncio.Semaphore(settings.max_connections)
        self._hosts: dict[str, _Host] = {}
        self._client: httpx.AsyncClient | None = None
        self._transport: _PerHostTransport | None = None
        self.requests_made = 0
        from flows.fetch.robots import RobotsRules

        self.robots = RobotsRules(self)

    async def __aenter__(self) -> "Fetcher":
        s = self.settings
        self._transport = _PerHostTransport(allow_private=s.allow_private_addresses, per_host=s.max_per_host)
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=httpx.Timeout(connect=s.connect_timeout, read=s.read_timeout,
                                  write=s.read_timeout, pool=s.connect_timeout + s.read_timeout),
            headers={"User-Agent": s.user_agent},
            follow_redirects=False,
            trust_env=False,
        )
        return self

    async def __aexit__(self, *exc) -> None:
        if self._client is not None:
            await self._client.aclose()

    # ------------------------------------------------------------------ public

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                  accept: str = FEED_ACCEPT, max_bytes: int | None = None) -> FetchResult:
        """GET with conditional headers; one retry of a transient failure. Raises FetchError."""
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            return await self._get(url, headers, max_bytes or self.settings.max_bytes)
        except FetchError as exc:
            if not exc.transient or (exc.retry_after or 0) > MAX_INLINE_RETRY_AFTER_S:
                raise
            await asyncio.sleep(max(RETRY_DELAY_S, exc.retry_after or 0))
            return await self._get(url, headers, max_bytes or self.settings.max_bytes)

    async def get_page(self, url: str) -> FetchResult:
        """Fetch an article page, if robots.txt lets us."""
        if self.settings.respect_robots:
            _check_url(url, url)
            refusal = await self.robots.refusal(url)
            if refusal:
                raise FetchError("robots", refusal.reason, url=url, temporary=refusal.temporary)
        return await self.get(url, accept=PAGE_ACCEPT)

    # ------------------------------------------------------------------ internals

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host(asyncio.Semaphore(self.settings.max_per_host))
        return state

    def set_crawl_delay(self, host: str, seconds: float) -> None:
        self._host(host).spacing = min(max(seconds, 0.0), MAX_HOST_WAIT_S)

    async def _close_idle_pools(self) -> None:
        assert self._transport is not None
        if len(self._transport._pools) > MAX_HOST_POOLS:
            await self._transport.close_idle(MAX_HOST_POOLS, {n for n, h in self._hosts.items() if h.active})

    async def _await_turn(self, host: _Host, name: str, url: str) -> None:
        now = time.monotonic()
        start = max(now, host.not_before, host.next_start)
        if start - now > MAX_HOST_WAIT_S:
            raise FetchError("deferred", f"{name} asked us to wait {start - now:.0f}s; not fetched this run",
                             url=url, retry_after=start - now)
        if host.spacing:
            host.next_start = start + host.spacing
        if start > now:
            await asyncio.sleep(start - now)

    async def _get(self, url: str, headers: dict[str, str], max_bytes: int) -> FetchResult:
        s = self.settings
        deadline = s.connect_timeout + 3 * s.read_timeout
        current, visited, redirects, permanent = url, {url}, [], True
        for _hop in range(s.max_redirects + 1):
            _check_url(current, url)
            name = host_key(current)
            host = self._host(name)
            await self._await_turn(host, name, url)
            # Host first: a request queued behind its busy host must not hold a global slot
            # that a request to an idle host could use.
            async with host.slots, self._global:
                host.active += 1
                try:
                    await self._close_idle_pools()
                    async with asyncio.timeout(deadline):
                        result = await self._exchange(current, url, headers, max_bytes, host)
                except TimeoutError:
                    raise FetchError("timeout", f"no complete response within {deadline:g}s from {name}",
                                     url=url) from None
                finally:
                    host.active -= 1
            if isinstance(result, FetchResult):
                result.redirects = redirects
                result.permanent_url = current if redirects and permanent else None
                return result
            status, location = result
            target = urljoin(current, location)
            if target in visited:
                raise FetchError("redirects", f"redirect loop at {target[:200]}", url=url, status=status)
            visited.add(target)
            redirects.append(target)
            permanent = permanent and status in (301, 308)
            current = target
        raise FetchError("redirects", f"more than {s.max_redirects} redirects", url=url)

    async def _exchange(self, current: str, url: str, headers: dict[str, str], max_bytes: int,
                        host: _Host) -> FetchResult | tuple[int, str]:
        """One request: a result, a redirect (status, location), or FetchError."""
        assert self._client is not None, "use Fetcher as an async context manager"
        name = host_key(current)
        try:
            self.requests_made += 1
            request = self._client.build_request("GET", current, headers=headers)
            response = await self._client.send(request, stream=True)
            try:
                status = response.status_code
                if status in (301, 302, 303, 307, 308) and response.headers.get("location"):
                    return status, response.headers["location"]
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                if status == 304:
                    return FetchResult(url, current, status, response_headers, b"")
                if not 200 <= status < 300:
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    if status in (429, 503) and retry_after:
                        host.not_before = max(host.not_before, time.monotonic() + retry_after)
                    reason = response.reason_phrase or ""
                    raise FetchError("http", f"HTTP {status} {reason}".strip() + f" from {name}",
                                     url=url, status=status, retry_after=retry_after)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError("too_large", f"body of {int(declared)} bytes exceeds the "
                                     f"{max_bytes}-byte limit", url=url, status=status)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchError("too_large", f"body exceeds the {max_bytes}-byte limit",
                                         url=url, status=status)
                return FetchResult(url, current, status, response_headers, bytes(body))
            finally:
                await response.aclose()
        except BlockedAddressError as exc:
            raise FetchError("refused", str(exc), url=url) from None
        except httpx.TimeoutException as exc:
            phase = type(exc).__name__.replace("Timeout", "").lower() or "request"
            raise FetchError("timeout", f"{phase} timeout from {name}", url=url) from None
        except httpx.DecodingError as exc:
            raise FetchError("network", f"bad content encoding from {name}: {exc}", url=url) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise FetchError("refused", f"refused: {exc}", url=url) from None
        except httpx.TransportError as exc:
            detail = str(exc) or type(exc).__name__
            raise FetchError("network", f"{detail} ({name})", url=url) from None
