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

import aiohttp
import certifi

from flows.config import FetchSettings
from flows.fetch.errors import FetchError
from flows.fetch.guard import BlockedAddressError, GuardedResolver, guarded_socket
from flows.fetch.robots import RobotsRules

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, text/html;q=0.5, */*;q=0.1"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"

RETRY_DELAY_S = 0.5  # pause before the one retry of a transient failure
MAX_INLINE_RETRY_AFTER_S = 2.0  # a Retry-After up to this is waited out within the run
MAX_HOST_WAIT_S = 30.0  # longer waits for a host (Retry-After, Crawl-delay) defer the request
MAX_RETRY_AFTER_S = 7 * 24 * 3600
MAX_HOST_POOLS = 64  # hosts whose idle keep-alive connections are kept open
MAX_HEADER_BYTES = 32 * 1024  # one response header line
MAX_HEADERS = 256
KEEPALIVE_S = 30.0  # an idle connection is closed after this
ACCEPT_ENCODING = "gzip, deflate, br"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass
class FetchResult:
    url: str  # as requested
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    redirects: list[str] = field(default_factory=list)
    permanent_url: str | None = None  # where every hop was a permanent redirect, the new address

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


class _Dropped(Exception):
    """The connection closed or failed before the answer (aiohttp's ServerDisconnectedError or
    ClientOSError), lifted out of aiohttp's own type so that aiohttp does not send the request again."""


async def _no_resend(request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
    """Client middleware: aiohttp would resend an idempotent request once itself when the connection
    drops before the answer; our one inline retry is the only one, so a failing server sees two
    requests, not four. (Connect errors pass: aiohttp never resends those.)"""
    try:
        return await handler(request)
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
        raise
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise _Dropped(str(exc) or type(exc).__name__) from exc


@dataclass
class _Host:
    slots: asyncio.Semaphore
    not_before: float = 0.0  # monotonic time before which the host asked not to be contacted
    spacing: float = 0.0  # robots.txt Crawl-delay, seconds between request starts
    next_start: float = 0.0
    in_flight: int = 0  # requests using this host's session now


class _HostSessions:
    """One aiohttp session (connector, keep-alive pool) per host, for at most `MAX_HOST_POOLS` hosts.

    A feed's pages mostly come from its own site, so connections are kept alive per host; but
    aiohttp keeps every idle connection until its keep-alive expires, so one connector over a run's
    many hosts would hoard sockets. With a session per host, the least recently used host that has
    nothing in flight is closed (aiohttp's public `close()`) once more hosts than that are open.
    The limits are ours (`Fetcher`'s semaphores); the sessions share one TLS context, resolver and
    cookie jar.
    """

    def __init__(self, settings: FetchSettings) -> None:
        s = settings
        guarded = not s.allow_private_addresses
        self._ssl = ssl.create_default_context(cafile=certifi.where())
        self._resolver = GuardedResolver() if guarded else aiohttp.ThreadedResolver()
        self._socket_factory = guarded_socket if guarded else None
        self._per_host = s.max_per_host
        self._cookies = aiohttp.CookieJar(unsafe=True)  # kept for the run, IP-literal hosts too
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=s.connect_timeout + s.read_timeout,
            sock_connect=s.connect_timeout,
            sock_read=s.read_timeout,
        )
        self._headers = {"User-Agent": s.user_agent, "Accept-Encoding": ACCEPT_ENCODING}
        self._open: dict[str, aiohttp.ClientSession] = {}  # least recently used first

    def _new(self) -> aiohttp.ClientSession:
        # Addresses tried one at a time (no happy eyeballs), each checked by the guard's socket factory.
        connector = aiohttp.TCPConnector(
            limit=self._per_host,
            limit_per_host=self._per_host,
            keepalive_timeout=KEEPALIVE_S,
            ssl=self._ssl,
            resolver=self._resolver,
            socket_factory=self._socket_factory,
            happy_eyeballs_delay=None,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            headers=self._headers,
            cookie_jar=self._cookies,
            trust_env=False,  # no proxies or .netrc from the environment
            # aiohttp's default of 8 KB per header line refuses real sites' long Content-Security-
            # Policy or Link headers, which httpx took (up to 100 KB of head); the bounds stay finite.
            max_line_size=MAX_HEADER_BYTES,
            max_field_size=MAX_HEADER_BYTES,
            max_headers=MAX_HEADERS,
            middlewares=(_no_resend,),
        )

    def session(self, name: str) -> aiohttp.ClientSession:
        """The host's session (opened if needed), now the most recently used."""
        session = self._open.pop(name, None) or self._new()
        self._open[name] = session
        return session

    async def trim(self, hosts: dict[str, _Host]) -> None:
        """Close the least recently used idle hosts' sessions beyond `MAX_HOST_POOLS`."""
        excess = len(self._open) - MAX_HOST_POOLS
        for name in [n for n in self._open if hosts[n].in_flight == 0][: max(excess, 0)]:
            await self._open.pop(name).close()

    @property
    def hosts(self) -> int:
        """Hosts with a session (and so perhaps idle keep-alive connections) open."""
        return len(self._open)

    async def close(self) -> None:
        while self._open:
            await self._open.popitem()[1].close()
        await self._resolver.close()


class Fetcher:
    """One per run: `async with Fetcher(settings.fetch) as fetcher: await fetcher.get(url)`."""

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self._global = asyncio.Semaphore(settings.max_connections)
        self._hosts: dict[str, _Host] = {}
        self._sessions: _HostSessions | None = None
        self.requests_made = 0
        self.robots = RobotsRules(self)

    async def __aenter__(self) -> "Fetcher":
        self._sessions = _HostSessions(self.settings)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._sessions is not None:
            await self._sessions.close()

    @property
    def open_hosts(self) -> int:
        """Hosts whose keep-alive connections are kept open now (at most `MAX_HOST_POOLS` when idle)."""
        return self._sessions.hosts if self._sessions is not None else 0

    # ------------------------------------------------------------------ public

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
        max_bytes: int | None = None,
    ) -> FetchResult:
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

    async def _await_turn(self, host: _Host, name: str, url: str) -> None:
        now = time.monotonic()
        start = max(now, host.not_before, host.next_start)
        if start - now > MAX_HOST_WAIT_S:
            raise FetchError(
                "deferred",
                f"{name} asked us to wait {start - now:.0f}s; not fetched this run",
                url=url,
                retry_after=start - now,
            )
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
                try:
                    async with asyncio.timeout(deadline):
                        result = await self._exchange(current, url, headers, max_bytes, host)
                except TimeoutError:
                    raise FetchError(
                        "timeout", f"no complete response within {deadline:g}s from {name}", url=url
                    ) from None
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

    async def _exchange(
        self, current: str, url: str, headers: dict[str, str], max_bytes: int, host: _Host
    ) -> FetchResult | tuple[int, str]:
        """One request: a result, a redirect (status, location), or FetchError."""
        assert self._sessions is not None, "use Fetcher as an async context manager"
        name = host_key(current)
        host.in_flight += 1
        try:
            self.requests_made += 1
            session = self._sessions.session(name)
            async with session.get(current, headers=headers, allow_redirects=False) as response:
                status = response.status
                location = response.headers.get("location")
                if status in REDIRECT_STATUSES and location:
                    return status, location
                response_headers = _lower_case(response.headers)
                if status == 304:
                    return FetchResult(url, current, status, response_headers, b"")
                if not 200 <= status < 300:
                    retry_after = parse_retry_after(response_headers.get("retry-after"))
                    if status in (429, 503) and retry_after:
                        host.not_before = max(host.not_before, time.monotonic() + retry_after)
                    reason = response.reason or ""
                    raise FetchError(
                        "http",
                        f"HTTP {status} {reason}".strip() + f" from {name}",
                        url=url,
                        status=status,
                        retry_after=retry_after,
                    )
                declared = response_headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError(
                        "too_large",
                        f"body of {int(declared)} bytes exceeds the {max_bytes}-byte limit",
                        url=url,
                        status=status,
                    )
                # aiohttp inflates a compressed body a bounded piece at a time, as it is read,
                # so a bomb stops here at the limit rather than being inflated whole.
                body = bytearray()
                async for chunk in response.content.iter_any():
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchError(
                            "too_large", f"body exceeds the {max_bytes}-byte limit", url=url, status=status
                        )
                return FetchResult(url, current, status, response_headers, bytes(body))
        except BlockedAddressError as exc:
            raise FetchError("refused", str(exc), url=url) from None
        except _Dropped as exc:
            raise FetchError("network", f"{exc} ({name})", url=url) from None
        except aiohttp.ConnectionTimeoutError:
            raise FetchError("timeout", f"connect timeout from {name}", url=url) from None
        except aiohttp.SocketTimeoutError:
            raise FetchError("timeout", f"read timeout from {name}", url=url) from None
        except aiohttp.ServerTimeoutError:
            raise FetchError("timeout", f"request timeout from {name}", url=url) from None
        except aiohttp.ClientPayloadError as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.http_exceptions.ContentEncodingError):
                detail = cause.__context__ or cause.message  # the decompressor's own complaint
                raise FetchError("network", f"bad content encoding from {name}: {detail}", url=url) from None
            raise FetchError("network", f"{exc} ({name})", url=url) from None
        except aiohttp.ClientConnectorDNSError as exc:
            raise FetchError("network", f"DNS lookup of {name} failed: {exc.os_error}", url=url) from None
        except aiohttp.InvalidURL as exc:
            raise FetchError("refused", f"refused: {exc}", url=url) from None
        except (aiohttp.ClientError, OSError) as exc:  # a certificate error is a ValueError too
            detail = str(exc) or type(exc).__name__
            raise FetchError("network", f"{detail} ({name})", url=url) from None
        except ValueError as exc:  # yarl: a URL it will not request
            raise FetchError("refused", f"refused: {exc}", url=url) from None
        finally:
            host.in_flight -= 1
            await self._sessions.trim(self._hosts)


def _lower_case(headers) -> dict[str, str]:
    """Response headers by lower-case name; a repeated header's values joined by commas.

    aiohttp decodes header bytes as UTF-8 with surrogate escapes; a value that is not UTF-8 is
    read as Latin-1 instead (as httpx did), so that an odd ETag can still be stored and sent back.
    """
    merged: dict[str, str] = {}
    for name, value in headers.items():
        name = name.lower()
        if not value.isascii():
            raw = value.encode("utf-8", "surrogateescape")
            try:
                value = raw.decode("utf-8")
            except UnicodeDecodeError:
                value = raw.decode("latin-1")
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged
