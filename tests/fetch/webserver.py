"""A real HTTP server on 127.0.0.1 for the fetcher's tests: routes, delays, streaming, request log."""

from __future__ import annotations

import email.utils
import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the status line
    chunks: Iterable[bytes] | None = None  # streamed without Content-Length, then the connection closes
    chunk_delay: float = 0.0


Handler = Callable[[Request], Response]


def static(
    body: bytes,
    content_type: str = "application/rss+xml",
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    gzip_body: bool = False,
    **extra: str,
) -> Handler:
    """A document that answers conditional requests with 304, like a well-behaved server."""

    def handle(request: Request) -> Response:
        if etag and request.headers.get("if-none-match") == etag:
            return Response(304, headers={"ETag": etag})
        if last_modified and request.headers.get("if-modified-since") == last_modified:
            return Response(304, headers={"Last-Modified": last_modified})
        headers = {"Content-Type": content_type, **extra}
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = last_modified
        data = body
        if gzip_body:
            data = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return Response(200, data, headers)

    return handle


def sequence(*responses: Response) -> Handler:
    """Answer with each response in turn, then keep repeating the last one."""
    remaining = list(responses)

    def handle(_request: Request) -> Response:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return handle


def http_date(ts: float | None = None) -> str:
    return email.utils.formatdate(ts if ts is not None else time.time(), usegmt=True)


class WebServer:
    def __init__(self, address: str = "127.0.0.1") -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
                with server._lock:
                    server.requests.append(request)
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                try:
                    handler = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                    response = (
                        handler(request) if handler else Response(404, b"not found", {"Content-Type": "text/plain"})
                    )
                    self._send(response)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server._lock:
                        server.active -= 1

            def _send(self, response: Response) -> None:
                if response.delay:
                    time.sleep(response.delay)
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                if response.chunks is not None:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    for chunk in response.chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        if response.chunk_delay:
                            time.sleep(response.chunk_delay)
                    return
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

        self._server = ThreadingHTTPServer((address, 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self._server.server_address[0]}:{self._server.server_port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, handler: Handler | Response) -> str:
        self.routes[path] = handler if callable(handler) else (lambda _r, resp=handler: resp)
        return self.url(path)

    def hits(self, path: str) -> int:
        """Requests for `path` (any query string, unless `path` has one itself)."""
        return sum(1 for r in self.requests if (r.path if "?" in path else r.path.split("?")[0]) == path)

    def start(self) -> "WebServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
