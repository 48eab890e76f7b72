"""Loopback "web" for the benchmarks: several hosts (127.0.0.2, .3, …), fixed added latency,
ETag/Last-Modified with 304s, gzip when the client asks for it. Nothing here is project code."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = "Mon, 02 Feb 2026 10:00:00 GMT"


@dataclass
class Doc:
    body: bytes
    content_type: str
    gz: bytes | None = None
    etag: str = ""


class LoopbackWeb:
    def __init__(self, hosts: int, latency: float) -> None:
        self.latency = latency
        self.docs: dict[tuple[str, str], Doc] = {}
        self.requests = 0
        self._lock = threading.Lock()
        self.servers = [self._server(f"127.0.0.{2 + i}") for i in range(hosts)]
        for server in self.servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def _server(self, address: str) -> ThreadingHTTPServer:
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                with web._lock:
                    web.requests += 1
                time.sleep(web.latency)
                doc = web.docs.get((address, self.path))
                if doc is None:
                    self._reply(404, b"not found", "text/plain")
                    return
                if (
                    self.headers.get("If-None-Match") == doc.etag
                    or self.headers.get("If-Modified-Since") == LAST_MODIFIED
                ):
                    self.send_response(304)
                    self.send_header("ETag", doc.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if doc.gz is not None and "gzip" in (self.headers.get("Accept-Encoding") or ""):
                    self._reply(200, doc.gz, doc.content_type, {"Content-Encoding": "gzip", "ETag": doc.etag})
                else:
                    self._reply(200, doc.body, doc.content_type, {"ETag": doc.etag})

            def _reply(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Last-Modified", LAST_MODIFIED)
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        server = ThreadingHTTPServer((address, 0), Handler)
        server.daemon_threads = True
        server.handle_error = lambda request, client_address: None  # clients closing keep-alives
        return server

    def host(self, index: int) -> str:
        server = self.servers[index % len(self.servers)]
        return f"http://{server.server_address[0]}:{server.server_address[1]}"

    def add(self, url: str, body: bytes, content_type: str, gz: bytes | None = None) -> str:
        """Serve `body` at `url` (which must start with one of `host(i)`)."""
        base, _, path = url.partition("//")[2].partition("/")
        address = base.split(":")[0]
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        self.docs[(address, "/" + path)] = Doc(body, content_type, gz, etag)
        return url

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def load_pages(folder) -> list[tuple[str, bytes, bytes]]:
    """(id, html bytes, gzip bytes) for every fixture page, in a stable order."""
    pages = []
    for path in sorted(folder.glob("*.html.gz")):
        gz = path.read_bytes()
        pages.append((path.name.removesuffix(".html.gz"), gzip.decompress(gz), gz))
    return pages
