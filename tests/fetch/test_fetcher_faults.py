"""The fetcher against the fault server's broken responses, decompression bombs, the parts of the
SSRF guard that live in aiohttp's connector (the socket factory and the resolver), TLS against
certifi's CA bundle, and proxy settings in the environment (ignored)."""

from __future__ import annotations

import asyncio
import ssl
import time
import tracemalloc
import zlib

import brotli
import certifi
import pytest
import trustme

from flows.fetch import FetchError, Fetcher
from tests.faultserver import FaultServer
from webserver import Response, WebServer

BODY = b"<rss><channel><title>fault test</title>" + b"<item><title>x</title></item>" * 400 + b"</channel></rss>"


@pytest.fixture(scope="module")
def faults():
    with FaultServer(feeds_dir=None, pages_dir=None, hang_s=2.0, drip_s=0.3) as server:
        yield server


def _get(settings, url: str):
    async def go():
        async with Fetcher(settings.fetch) as fetcher:
            return await fetcher.get(url)

    try:
        return asyncio.run(go())
    except FetchError as exc:
        return exc


@pytest.mark.parametrize(
    "fault, kind, words",
    [
        ("reset", "network", ""),
        ("truncate", "network", ""),
        ("bad_gzip", "network", "bad content encoding"),
        ("status_5xx", "http", "HTTP 50"),
    ],
)
def test_a_fault_twice_is_an_error_of_its_kind_and_once_is_retried_away(faults, settings, fault, kind, words):
    path = f"/twice-{fault}"
    url = faults.route(path, BODY, "application/rss+xml", faults_allowed=True)
    faults.script(path, fault, fault)
    error = _get(settings, url)
    assert isinstance(error, FetchError) and error.kind == kind and words in str(error), error
    assert error.transient and faults.requests[path] == 2
    faults.script(path, fault, None)
    assert _get(settings, url).body == BODY
    assert faults.requests[path] == 4


def test_a_silent_server_is_a_read_timeout_and_not_retried(faults, settings):
    url = faults.route("/hang", BODY, "application/rss+xml", faults_allowed=True)
    faults.script("/hang", "timeout")
    started = time.monotonic()
    error = _get(settings, url)
    assert isinstance(error, FetchError) and error.kind == "timeout" and "read timeout" in str(error)
    assert time.monotonic() - started < 1.5 and faults.requests["/hang"] == 1


def test_a_slow_drip_that_completes_and_a_corrupt_body_arrive_as_sent(faults, settings):
    url = faults.route("/drip", BODY, "application/rss+xml", faults_allowed=True)
    faults.script("/drip", "slow_drip", "corrupt")
    assert _get(settings, url).body == BODY
    corrupt = _get(settings, url).body
    assert len(corrupt) == len(BODY) and corrupt != BODY


def _gzip_bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    return b"".join([*(packer.compress(block) for _ in range(size >> 20)), packer.flush()])


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_a_bomb_is_cut_off_at_the_limit_without_being_inflated_whole(web, make_settings, encoding):
    size = 256 << 20
    packed = _gzip_bomb(size) if encoding == "gzip" else brotli.compress(b"\0" * size, quality=1)
    assert len(packed) < 1 << 20
    web.route("/bomb", Response(200, packed, {"Content-Encoding": encoding}))
    tracemalloc.start()
    try:
        error = _get(make_settings(max_bytes=1 << 20), web.url("/bomb"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(error, FetchError) and error.kind == "too_large"
    assert peak < 24 << 20, f"{peak >> 20} MB allocated while refusing a {size >> 20} MB bomb"


def test_literal_ip_hosts_are_checked_at_the_socket_including_odd_forms(web, make_settings):
    port = web.base.rsplit(":", 1)[1]
    guarded = make_settings(allow_private_addresses=False)
    for host, words in (
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("[::1]", "::1 is a loopback"),
        ("127.1", "127.1"),
        ("2130706433", "2130706433"),
        ("0x7f000001", "0x7f000001"),
    ):
        error = _get(guarded, f"http://{host}:{port}/feed")
        assert isinstance(error, FetchError) and error.kind == "refused" and words in str(error), (host, error)
    assert web.requests == []


def test_an_answer_the_resolver_let_through_is_still_refused_at_the_connect(web, make_settings, monkeypatch):
    # As if a stale or rebound DNS answer reached the connector unchecked: the socket check stops it.
    import flows.fetch.guard as guard

    real = guard.check_addresses

    def only_at_the_socket(host, addresses):
        if host != "localhost":
            real(host, addresses)

    monkeypatch.setattr(guard, "check_addresses", only_at_the_socket)
    error = _get(make_settings(allow_private_addresses=False), f"http://localhost:{web.base.rsplit(':', 1)[1]}/x")
    assert isinstance(error, FetchError) and error.kind == "refused" and "loopback address" in str(error)
    assert web.requests == []


@pytest.mark.parametrize(
    "encoding, body", [("gzip", b"not gzip at all"), ("br", b"not brotli"), ("deflate", b"not deflate")]
)
def test_a_body_that_does_not_decode_is_a_network_error_saying_so(web, settings, encoding, body):
    web.route("/bad", Response(200, body, {"Content-Encoding": encoding}))
    error = _get(settings, web.url("/bad"))
    assert isinstance(error, FetchError) and error.kind == "network"
    assert str(error).startswith("bad content encoding from 127.0.0.1: ") and "\n" not in str(error)


@pytest.fixture
def tls_web():
    """The test web server behind TLS, with a certificate from a CA made here (not in certifi's bundle)."""
    ca = trustme.CA()
    server = WebServer()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server._server.socket = context.wrap_socket(server._server.socket, server_side=True)
    server.start()
    yield server, ca
    server.stop()


def test_https_is_verified_against_certifis_bundle(tls_web, settings, monkeypatch, tmp_path):
    server, ca = tls_web
    server.route("/feed", Response(200, b"over tls"))
    url = server.url("/feed").replace("http://", "https://")
    error = _get(settings, url)
    assert isinstance(error, FetchError) and error.kind == "network" and "certificate" in str(error), error
    assert server.requests == []
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setattr(certifi, "where", lambda: str(bundle))  # as if certifi's bundle held our CA
    assert _get(settings, url).body == b"over tls"


def test_proxy_settings_in_the_environment_are_ignored(web, settings, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    web.route("/feed", Response(200, b"direct"))
    assert _get(settings, web.url("/feed")).body == b"direct"


def test_header_values_not_utf8_are_latin1_repeats_are_joined_long_ones_kept(web, settings):
    policy = "default-src 'self' " + " ".join(f"https://cdn{i}.example.com" for i in range(1000))
    web.route(
        "/feed",
        Response(
            200, b"ok", {"ETag": '"caf\xe9\xff"', "X-Seen": "a", "x-seen": "b", "Content-Security-Policy": policy}
        ),
    )
    headers = _get(settings, web.url("/feed")).headers
    assert headers["etag"] == '"caf\xe9\xff"' and headers["x-seen"] == "a, b"
    assert headers["content-security-policy"] == policy and len(policy) > 20_000  # past aiohttp's 8 KB default
    assert headers["etag"].encode("utf-8")  # storable: no surrogate escapes


def test_a_name_that_does_not_resolve_is_a_network_error_naming_the_host_once(settings):
    error = _get(settings, "http://no-such-host.invalid/feed.xml")
    assert isinstance(error, FetchError) and error.kind == "network"
    assert str(error).startswith("DNS lookup of no-such-host.invalid failed")
    assert str(error).count("no-such-host.invalid") == 1
