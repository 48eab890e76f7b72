"""A real loopback HTTP server for the fixture feeds and pages that injects faults at random.

Tests and the soak point the pipeline at it instead of the internet. It serves

- `/feeds/<file>`: the captured feeds of `../shared/fixtures/feeds` (or any folder), with a strong
  ETag and Last-Modified, answering conditional requests with 304;
- `/pages/<id>.html`: the captured article pages of `../shared/fixtures/pages` (gzip-encoded when
  the client accepts it);
- `/ext/<host>/<path>`: what a feed's article links point to once rewritten (see below): one of the
  fixture pages, chosen by a hash of the link, so full-text extraction runs on real pages;
- `/robots.txt`: allow everything;
- any extra route a test registers with `route()` (hostile bodies: bombs, endless streams, …).

Links in served feeds are rewritten (`rewrite_links=True`) from `https://host/…` to
`http://127.0.0.1:<port>/ext/host/…`, so nothing the pipeline follows leaves the machine.

Faults, drawn with a seeded `random.Random` (same seed, same sequence of decisions):

    status_5xx   500/502/503/504 (503 sometimes with Retry-After: 1)
    reset        TCP reset, before any byte or after the status line
    timeout      the connection stays open and silent for `hang_s` seconds
    truncate     full Content-Length announced, half the body sent, connection closed
    corrupt      200 with garbage bytes written over a span of the body (headers untouched)
    bad_gzip     Content-Encoding: gzip over a broken gzip stream
    slow_drip    the body in small chunks spread over `drip_s` seconds (completes)
    wrong_type   a feed served as text/html, text/plain or application/octet-stream
    etag_change  a new ETag on every response with the body unchanged; validators ignored

`rate` is the probability that a request gets a fault; `set_rate()` changes it while running (the
soak turns faults off for its final phase). `script(path, *faults)` forces the next requests to a
path to get the given faults in order, for deterministic tests. `stats` counts faults injected and
`requests` counts requests per path.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import socket
import struct
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterable, Iterator
from urllib.parse import unquote, urlsplit

from tests.material import SHARED

FAULTS = ("status_5xx", "reset", "timeout", "truncate", "corrupt", "bad_gzip", "slow_drip", "wrong_type", "etag_change")
# Faults after which the client cannot have a usable body (it must retry on a later run).
DESTRUCTIVE = frozenset({"status_5xx", "reset", "timeout", "truncate", "bad_gzip"})

FEEDS_DIR = SHARED / "fixtures" / "feeds"
PAGES_DIR = SHARED / "fixtures" / "pages"

_LINK = re.compile(rb"https?:(\\?/)\1((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})(?=[/\\\"'<\s?#&]|$)")

_NAMESPACE = re.compile(rb"xmlns(?::[\w.-]+)?\s*=\s*[\"']$")

Body = bytes | Callable[[], Iterable[bytes]]


@dataclass
class Route:
    """A fixed response a test registers: a body (or a generator of chunks), type and headers."""

    body: Body
    content_type: str = "application/xml"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    faults_allowed: bool = False


def feed_content_type(body: bytes) -> str:
    """The type a well-behaved server would send for a feed document."""
    head = body[:2048].lstrip().lower()
    if head.startswith((b"{", b"[")):
        return "application/feed+json"
    if b"<rss" in head:
        return "application/rss+xml"
    if b"<feed" in head:
        return "application/atom+xml"
    if b"<rdf" in head:
        return "application/rdf+xml"
    return "application/xml"


class FaultServer:
    """`with FaultServer(seed=1, rate=0.3) as server: server.feed_urls()` — see the module docstring."""

    def __init__(
        self,
        feeds_dir: Path | None = FEEDS_DIR,
        pages_dir: Path | None = PAGES_DIR,
        *,
        seed: int = 0,
        rate: float = 0.0,
        faults: Iterable[str] = FAULTS,
        weights: dict[str, float] | None = None,
        hang_s: float = 3.0,
        drip_s: float = 1.0,
        rewrite_links: bool = True,
        honor_validators: bool = True,
    ) -> None:
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        self.feeds_dir = feeds_dir
        self.pages_dir = pages_dir
        self.faults = tuple(faults)
        self.weights = [float((weights or {}).get(f, 1.0)) for f in self.faults]
        self.hang_s = hang_s
        self.drip_s = drip_s
        self.rewrite_links = rewrite_links
        self.honor_validators = honor_validators
        self._rate = rate
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[str]] = defaultdict(deque)
        self._routes: dict[str, Route] = {}
        self._cache: dict[str, bytes] = {}
        self._page_ids: list[str] = []
        self._stopping = threading.Event()
        self.stats: Counter[str] = Counter()  # fault kind -> times injected
        self.requests: Counter[str] = Counter()  # path -> requests
        self.log: list[tuple[float, str, str | None]] = []  # (time, path, fault or None)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "FaultServer":
        handler = type("Handler", (_Handler,), {"fault_server": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        if self.pages_dir is not None and self.pages_dir.is_dir():
            self._page_ids = sorted(p.name.removesuffix(".html.gz") for p in self.pages_dir.glob("*.html.gz"))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="faultserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + ("" if path.startswith("/") else "/") + path

    def feed_files(self) -> list[str]:
        if self.feeds_dir is None or not self.feeds_dir.is_dir():
            return []
        return sorted(p.name for p in self.feeds_dir.iterdir() if p.suffix in (".feed", ".xml", ".json"))

    def feed_urls(self, names: Iterable[str] | None = None) -> list[str]:
        return [self.url(f"/feeds/{name}") for name in (self.feed_files() if names is None else names)]

    def page_ids(self) -> list[str]:
        return list(self._page_ids)

    # ------------------------------------------------------------------ control

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self._rate = rate

    @property
    def rate(self) -> float:
        return self._rate

    def script(self, path: str, *faults: str | None) -> None:
        """The next requests to `path` get these faults in order (None: serve normally)."""
        for f in faults:
            if f is not None and f not in FAULTS:
                raise ValueError(f"unknown fault {f!r}")
        with self._lock:
            self._scripts[path].extend(faults)

    def route(
        self,
        path: str,
        body: Body,
        content_type: str = "application/xml",
        status: int = 200,
        headers: dict[str, str] | None = None,
        faults_allowed: bool = False,
    ) -> str:
        """Serve a fixed body (or a generator of chunks) at `path`; returns its URL."""
        self._routes[path] = Route(body, content_type, status, dict(headers or {}), faults_allowed)
        return self.url(path)

    @property
    def faults_injected(self) -> int:
        return sum(self.stats.values())

    def _choose_fault(self, path: str) -> str | None:
        with self._lock:
            script = self._scripts.get(path)
            if script:
                return script.popleft()
            if self._rate > 0 and self._rng.random() < self._rate:
                return self._rng.choices(self.faults, self.weights)[0]
            return None

    def _record(self, path: str, fault: str | None) -> None:
        with self._lock:
            self.requests[path] += 1
            if fault:
                self.stats[fault] += 1
            self.log.append((time.monotonic(), path, fault))

    def _rand(self) -> random.Random:
        with self._lock:
            return random.Random(self._rng.random())

    # ------------------------------------------------------------------ content

    def _rewrite(self, body: bytes) -> bytes:
        if not self.rewrite_links:
            return body
        port = str(self.port).encode()

        def sub(m: re.Match) -> bytes:
            if _NAMESPACE.search(body, max(0, m.start() - 64), m.start()):
                return m.group(0)  # an XML namespace is a name, not a link
            slash = m.group(1)
            return b"http:" + slash + slash + b"127.0.0.1:" + port + slash + b"ext" + slash + m.group(2)

        return _LINK.sub(sub, body)

    def feed_body(self, name: str) -> bytes | None:
        key = f"feed:{name}"
        if key not in self._cache:
            if self.feeds_dir is None or "/" in name or name.startswith("."):
                return None
            path = self.feeds_dir / name
            if not path.is_file():
                return None
            self._cache[key] = self._rewrite(path.read_bytes())
        return self._cache[key]

    def page_gz(self, page_id: str) -> bytes | None:
        if self.pages_dir is None or "/" in page_id or page_id.startswith("."):
            return None
        path = self.pages_dir / f"{page_id}.html.gz"
        return path.read_bytes() if path.is_file() else None

    def page_for_link(self, path: str) -> str | None:
        """The fixture page that stands in for an external article link (stable per link)."""
        if not self._page_ids:
            return None
        digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest()
        return self._page_ids[int.from_bytes(digest[:4], "big") % len(self._page_ids)]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """Clients hanging up mid-request are what faults are made of; no traceback on stderr."""


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


_LAST_MODIFIED = formatdate(1767225600, usegmt=True)  # fixed: 2026-01-01, so 304s are stable


class _Handler(BaseHTTPRequestHandler):
    fault_server: FaultServer
    protocol_version = "HTTP/1.1"
    server_version = "faultserver/1"

    def log_message(self, format: str, *args) -> None:  # quiet; the server keeps its own log
        pass

    # ------------------------------------------------------------------ dispatch

    def do_HEAD(self) -> None:
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:
        fs = self.fault_server
        path = urlsplit(self.path).path
        route = fs._routes.get(path)
        if route is not None:
            fault = fs._choose_fault(path) if route.faults_allowed else None
            fs._record(path, fault)
            self._serve_route(route, fault, head)
            return
        if path == "/robots.txt":
            fs._record(path, None)
            self._send(200, b"User-agent: *\nAllow: /\n", "text/plain", head=head)
            return
        body, ctype, gz, is_feed = self._resolve(path)
        if body is None:
            fs._record(path, None)
            self._send(404, b"not found", "text/plain", head=head)
            return
        fault = fs._choose_fault(path)
        fs._record(path, fault)
        self._serve(body, ctype, fault, gz=gz, is_feed=is_feed, head=head)

    def _resolve(self, path: str) -> tuple[bytes | None, str, bytes | None, bool]:
        """(body, content type, pre-compressed body or None, is it a feed)."""
        fs = self.fault_server
        if path.startswith("/feeds/"):
            body = fs.feed_body(unquote(path.removeprefix("/feeds/")))
            return body, feed_content_type(body or b""), None, True
        if path.startswith("/pages/") and path.endswith(".html"):
            gz = fs.page_gz(path.removeprefix("/pages/").removesuffix(".html"))
            return (gzip.decompress(gz) if gz else None), "text/html; charset=utf-8", gz, False
        if path.startswith("/ext/"):
            page_id = fs.page_for_link(path)
            gz = fs.page_gz(page_id) if page_id else None
            return (gzip.decompress(gz) if gz else None), "text/html; charset=utf-8", gz, False
        return None, "", None, False

    # ------------------------------------------------------------------ responses

    def _accepts_gzip(self) -> bool:
        return "gzip" in (self.headers.get("Accept-Encoding") or "").lower()

    def _not_modified(self, etag: str) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            return etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                return parsedate_to_datetime(ims).timestamp() >= 1767225600
            except (TypeError, ValueError):
                return False
        return False

    def _serve(
        self, body: bytes, ctype: str, fault: str | None, *, gz: bytes | None, is_feed: bool, head: bool
    ) -> None:
        fs = self.fault_server
        etag = _etag(body)
        headers = {"ETag": etag, "Last-Modified": _LAST_MODIFIED, "Cache-Control": "max-age=0"}
        if fault == "etag_change":
            headers["ETag"] = '"' + hashlib.sha256(f"{time.time_ns()}".encode()).hexdigest()[:20] + '"'
        elif fs.honor_validators and fault is None and self._not_modified(etag):
            self._send(304, b"", None, headers, head=True)
            return
        if gz is not None and self._accepts_gzip() and fault not in ("corrupt", "bad_gzip"):
            headers["Content-Encoding"] = "gzip"
            payload = gz
        else:
            payload = body
        if fault == "wrong_type":
            ctype = fs._rand().choice(
                ["text/html; charset=utf-8", "text/plain", "application/octet-stream"]
                if is_feed
                else ["application/octet-stream", "text/plain", "application/json"]
            )
        if fault is None or fault in ("etag_change", "wrong_type"):
            self._send(200, payload, ctype, headers, head=head)
        elif fault == "status_5xx":
            rnd = fs._rand()
            status = rnd.choice([500, 502, 503, 504])
            extra = {"Retry-After": "1"} if status == 503 and rnd.random() < 0.5 else {}
            self._send(status, f"fault: {status}".encode(), "text/plain", extra, head=head)
        elif fault == "reset":
            if fs._rand().random() < 0.5:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                self.wfile.flush()
            self._reset()
        elif fault == "timeout":
            fs._stopping.wait(fs.hang_s)
            self.close_connection = True
        elif fault == "truncate":
            self._send_headers(200, ctype, {**headers, "Content-Length": str(len(payload))})
            self.wfile.write(payload[: max(1, len(payload) // 2)])
            self.wfile.flush()
            self._reset()
        elif fault == "corrupt":
            self._send(200, _corrupt(payload, fs._rand()), ctype, headers, head=head)
        elif fault == "bad_gzip":
            broken = bytearray(gzip.compress(body, compresslevel=1, mtime=0))
            rnd = fs._rand()
            for _ in range(8):
                i = rnd.randrange(10, max(11, len(broken) - 8))
                broken[i] ^= 0xFF
            self._send(200, bytes(broken), ctype, {**headers, "Content-Encoding": "gzip"}, head=head)
        elif fault == "slow_drip":
            self._send_headers(200, ctype, {**headers, "Content-Length": str(len(payload))})
            if not head:
                self._drip(payload, fs.drip_s)
        else:  # pragma: no cover
            raise AssertionError(fault)

    def _serve_route(self, route: Route, fault: str | None, head: bool) -> None:
        if fault is not None:
            body = route.body() if callable(route.body) else route.body
            data = body if isinstance(body, bytes) else b"".join(body)
            self._serve(data, route.content_type, fault, gz=None, is_feed=True, head=head)
            return
        if callable(route.body):
            # A stream: chunked transfer, for bodies that are huge or never end.
            self._send_headers(route.status, route.content_type, {**route.headers, "Transfer-Encoding": "chunked"})
            if head:
                return
            try:
                for chunk in route.body():
                    if self.fault_server._stopping.is_set():
                        break
                    if chunk:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        self._send(route.status, route.body, route.content_type, route.headers, head=head)

    def _send_headers(self, status: int, ctype: str | None, headers: dict[str, str]) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()

    def _send(
        self, status: int, body: bytes, ctype: str | None, headers: dict[str, str] | None = None, head: bool = False
    ) -> None:
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(body)))
        try:
            self._send_headers(status, ctype, headers)
            if not head and status != 304:
                self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _drip(self, payload: bytes, seconds: float) -> None:
        chunks = max(1, min(50, len(payload) // 256))
        size = -(-len(payload) // chunks)
        try:
            for i in range(0, len(payload), size):
                self.wfile.write(payload[i : i + size])
                self.wfile.flush()
                if self.fault_server._stopping.wait(seconds / chunks):
                    break
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0) rather than FIN: what a crashed proxy or server looks like."""
        try:
            self.wfile.flush()
        except OSError:
            pass
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass


def _corrupt(body: bytes, rnd: random.Random) -> bytes:
    """Overwrite a span in the body with bytes that break XML, JSON and UTF-8 alike."""
    if not body:
        return b"\x00"
    data = bytearray(body)
    span = max(8, min(512, len(data) // 20))
    start = rnd.randrange(0, max(1, len(data) - span))
    garbage = bytes(rnd.choice(b"<>&\x00\xff\xfe\x80{}\"'") for _ in range(span))
    data[start : start + span] = garbage
    return bytes(data)


# ---------------------------------------------------------------------- hostile bodies


def endless_feed() -> Iterator[bytes]:
    """An RSS feed that never ends: items forever (the client must stop at its size limit)."""
    yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>endless</title>'
    n = 0
    while True:
        n += 1
        yield (
            f"<item><title>Item {n}</title><link>http://127.0.0.1/e/{n}</link>"
            f"<guid>endless-{n}</guid><description>{'x' * 900}</description></item>"
        ).encode()


def gzip_bomb(uncompressed_mb: int = 1024) -> bytes:
    """A gzip stream of zeros that expands ~1000x: `uncompressed_mb` MB from about a megabyte."""
    import zlib

    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1024 * 1024)
    out = [comp.compress(chunk) for _ in range(uncompressed_mb)]
    out.append(comp.flush())
    return b"".join(out)


def billion_laughs(levels: int = 10) -> bytes:
    """The classic entity-expansion bomb wrapped in an RSS item title."""
    ents = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, levels)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n' + "\n".join(ents) + "\n]>\n"
        f'<rss version="2.0"><channel><title>bomb</title><item><title>&lol{levels - 1};</title>'
        "<link>http://127.0.0.1/bomb/1</link><guid>bomb-1</guid></item></channel></rss>"
    ).encode()


def external_entity_feed(target: str) -> bytes:
    """An RSS feed whose title pulls a local file (XXE) or URL through an external entity."""
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{target}">]>\n'
        '<rss version="2.0"><channel><title>xxe</title><item><title>Leak: &xxe;</title>'
        "<link>http://127.0.0.1/xxe/1</link><guid>xxe-1</guid><description>&xxe;</description>"
        "</item></channel></rss>"
    ).encode()


def many_entries_feed(n: int = 10_000, title_bytes: int = 60) -> bytes:
    """An RSS feed with `n` entries (each with a distinct guid) and titles of `title_bytes` bytes."""
    parts = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>many</title>']
    for i in range(n):
        title = (f"Entry {i} " + "y" * title_bytes)[:title_bytes]
        parts.append(
            f"<item><title>{title}</title><link>http://127.0.0.1/many/{i}</link>"
            f"<guid>many-{i}</guid><pubDate>Mon, 02 Feb 2026 10:00:00 GMT</pubDate>"
            f"<description>Body of entry {i} about China and the United States.</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def json_feed(items: list[dict]) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "json", "items": items}).encode()
