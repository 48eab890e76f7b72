"""The HTTP client against a real server on 127.0.0.1: limits, timeouts, redirects, SSRF, robots."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import time

import brotli
import pytest

from flows.config import FetchSettings
from flows.fetch import FetchError, Fetcher
from flows.fetch.client import parse_retry_after
from flows.fetch.guard import forbidden_reason
from webserver import Response, WebServer, sequence, static


def fetch(settings: FetchSettings, url: str, **kwargs):
    async def go():
        async with Fetcher(settings) as fetcher:
            return await fetcher.get(url, **kwargs)

    return asyncio.run(go())


def fetch_page(settings: FetchSettings, url: str):
    async def go():
        async with Fetcher(settings) as fetcher:
            return await fetcher.get_page(url)

    return asyncio.run(go())


def fetch_error(settings: FetchSettings, url: str, **kwargs) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(settings, url, **kwargs)
    return info.value


def test_gzip_and_brotli_bodies_arrive_decoded_and_user_agent_names_the_project(web, settings):
    text = b"<rss><channel><title>compressed</title></channel></rss>" * 50
    web.route("/gz", Response(200, gzip.compress(text), {"Content-Encoding": "gzip"}))
    web.route("/br", Response(200, brotli.compress(text), {"Content-Encoding": "br"}))
    assert fetch(settings.fetch, web.url("/gz")).body == text
    assert fetch(settings.fetch, web.url("/br")).body == text
    first = web.requests[0].headers
    assert "uschina-digest" in first["user-agent"]
    assert "gzip" in first["accept-encoding"] and "br" in first["accept-encoding"]


def test_conditional_get_sends_validators_and_reports_304(web, settings):
    web.route("/feed", static(b"<rss/>", etag='"v1"', last_modified="Mon, 02 Feb 2026 10:00:00 GMT"))
    first = fetch(settings.fetch, web.url("/feed"))
    assert first.status == 200 and first.headers["etag"] == '"v1"'
    again = fetch(settings.fetch, web.url("/feed"), etag='"v1"', last_modified=first.headers["last-modified"])
    assert again.not_modified and again.body == b""
    assert web.requests[-1].headers["if-none-match"] == '"v1"'
    assert web.requests[-1].headers["if-modified-since"] == "Mon, 02 Feb 2026 10:00:00 GMT"


def test_short_retry_after_is_waited_out_then_succeeds(web, settings):
    web.route("/busy", sequence(Response(429, b"slow down", {"Retry-After": "1"}), Response(200, b"ok")))
    result = fetch(settings.fetch, web.url("/busy"))
    assert result.body == b"ok"
    first, second = [r.at for r in web.requests if r.path == "/busy"]
    assert second - first >= 0.95


def test_long_retry_after_fails_fast_and_holds_off_the_host(web, settings):
    web.route("/busy", Response(503, b"maintenance", {"Retry-After": "120"}))
    web.route("/other", Response(200, b"fine"))

    async def go():
        async with Fetcher(settings.fetch) as fetcher:
            with pytest.raises(FetchError) as first:
                await fetcher.get(web.url("/busy"))
            with pytest.raises(FetchError) as second:
                await fetcher.get(web.url("/other"))
            return first.value, second.value

    started = time.monotonic()
    first, second = asyncio.run(go())
    assert time.monotonic() - started < 2
    assert first.status == 503 and first.retry_after == 120
    assert second.kind == "deferred"  # same host: not contacted again this run
    assert web.hits("/busy") == 1 and web.hits("/other") == 0


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert 3590 < parse_retry_after(time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3600))) <= 3600
    assert parse_retry_after("soon") is None


def test_500_then_success_is_retried_once(web, settings):
    web.route("/flaky", sequence(Response(500, b"oops"), Response(200, b"recovered")))
    assert fetch(settings.fetch, web.url("/flaky")).body == b"recovered"
    assert web.hits("/flaky") == 2


def test_persistent_500_is_an_http_error_after_one_retry(web, settings):
    web.route("/down", Response(500, b"oops"))
    error = fetch_error(settings.fetch, web.url("/down"))
    assert error.kind == "http" and error.status == 500 and "HTTP 500" in str(error)
    assert web.hits("/down") == 2


def test_404_is_not_retried(web, settings):
    assert fetch_error(settings.fetch, web.url("/missing")).status == 404
    assert web.hits("/missing") == 1


def test_slow_server_times_out(web, settings):
    web.route("/slow", Response(200, b"late", delay=3))
    started = time.monotonic()
    error = fetch_error(settings.fetch, web.url("/slow"))
    assert error.kind == "timeout"
    assert time.monotonic() - started < 2.5


def test_dripping_server_hits_the_overall_deadline(web, make_settings):
    settings = make_settings(read_timeout=0.3)  # deadline = 1 + 3 * 0.3 s
    web.route("/drip", Response(200, chunks=(b"x" for _ in range(100)), chunk_delay=0.2))
    started = time.monotonic()
    error = fetch_error(settings.fetch, web.url("/drip"))
    assert error.kind == "timeout" and time.monotonic() - started < 3


def test_oversized_body_declared_or_streamed_is_refused(web, make_settings):
    settings = make_settings(max_bytes=4096)
    web.route("/big", Response(200, b"x" * 10_000))
    web.route("/stream", Response(200, chunks=(b"y" * 1000 for _ in range(1000))))
    web.route("/bomb", Response(200, gzip.compress(b"z" * 5_000_000), {"Content-Encoding": "gzip"}))
    for path in ("/big", "/stream", "/bomb"):
        error = fetch_error(settings.fetch, web.url(path))
        assert error.kind == "too_large", path
        assert "4096" in str(error)


def test_redirects_are_followed_up_to_the_limit(web, settings):
    for i in range(5):
        web.route(f"/r{i}", Response(301, headers={"Location": f"/r{i + 1}"}))
    web.route("/r5", Response(200, b"arrived"))
    result = fetch(settings.fetch, web.url("/r0"))
    assert result.body == b"arrived" and result.final_url == web.url("/r5")
    assert result.permanent_url == web.url("/r5") and len(result.redirects) == 5
    web.route("/r5", Response(302, headers={"Location": "/r6"}))
    web.route("/r6", Response(200, b"too far"))
    assert fetch_error(settings.fetch, web.url("/r0")).kind == "redirects"


def test_redirect_loop_is_detected(web, settings):
    web.route("/a", Response(302, headers={"Location": "/b"}))
    web.route("/b", Response(302, headers={"Location": "/a"}))
    error = fetch_error(settings.fetch, web.url("/a"))
    assert error.kind == "redirects" and "loop" in str(error)
    assert web.hits("/a") == 1 and web.hits("/b") == 1


def test_redirect_to_another_scheme_is_refused(web, settings):
    web.route("/sneaky", Response(302, headers={"Location": "file:///etc/passwd"}))
    error = fetch_error(settings.fetch, web.url("/sneaky"))
    assert error.kind == "refused" and "file" in str(error)


def test_ssrf_guard_refuses_loopback_before_any_request(web, make_settings):
    settings = make_settings(allow_private_addresses=False)
    web.route("/feed", Response(200, b"secret"))
    for url in (web.url("/feed"), f"http://localhost:{web.base.rsplit(':', 1)[1]}/feed"):
        error = fetch_error(settings.fetch, url)
        assert error.kind == "refused" and "loopback" in str(error)
    assert web.requests == []


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::5", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "reserved"),
        ("224.0.0.1", "multicast"),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_guard_classifies_addresses(address, reason):
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


def test_per_host_and_global_limits_hold(web, make_settings):
    settings = make_settings(max_per_host=2, max_connections=16)
    web.route("/slowish", Response(200, b"ok", delay=0.2))

    async def go():
        async with Fetcher(settings.fetch) as fetcher:
            await asyncio.gather(*(fetcher.get(web.url("/slowish")) for _ in range(6)))

    started = time.monotonic()
    asyncio.run(go())
    assert web.max_active == 2
    assert time.monotonic() - started >= 0.55  # three waves of two


def test_robots_txt_is_obeyed_for_pages_only(web, settings):
    web.route("/robots.txt", Response(200, b"User-agent: *\nDisallow: /private/\n", {"Content-Type": "text/plain"}))
    web.route("/private/page", Response(200, b"<html>no</html>"))
    web.route("/public/page", Response(200, b"<html>yes</html>"))
    with pytest.raises(FetchError) as info:
        fetch_page(settings.fetch, web.url("/private/page"))
    error = info.value
    assert error.kind == "robots" and "disallows" in str(error)
    assert fetch_page(settings.fetch, web.url("/public/page")).body == b"<html>yes</html>"
    assert fetch(settings.fetch, web.url("/private/page")).status == 200  # feeds are not crawled
    assert web.hits("/private/page") == 1


def test_unreachable_robots_txt_disallows_missing_one_allows(web, settings):
    web.route("/robots.txt", Response(500, b"broken"))
    web.route("/page", Response(200, b"<html>x</html>"))
    with pytest.raises(FetchError) as info:
        fetch_page(settings.fetch, web.url("/page"))
    assert info.value.kind == "robots" and "could not be fetched" in str(info.value)
    web.route("/robots.txt", Response(404, b"none"))
    assert fetch_page(settings.fetch, web.url("/page")).status == 200


def test_robots_is_fetched_once_per_origin(web, settings):
    web.route("/robots.txt", Response(200, b"User-agent: *\nAllow: /\n"))
    for i in range(4):
        web.route(f"/p{i}", Response(200, b"<html>x</html>"))

    async def go():
        async with Fetcher(settings.fetch) as fetcher:
            await asyncio.gather(*(fetcher.get_page(web.url(f"/p{i}")) for i in range(4)))

    asyncio.run(go())
    assert web.hits("/robots.txt") == 1


def test_idle_host_pools_are_closed_beyond_the_limit(monkeypatch, make_settings):
    import flows.fetch.client as client

    monkeypatch.setattr(client, "MAX_HOST_POOLS", 1)
    servers = [WebServer(f"127.0.0.{i}").start() for i in (2, 3, 4)]
    try:
        for server in servers:
            server.route("/doc", Response(200, b"ok", delay=0.1))

        async def go():
            async with Fetcher(make_settings().fetch) as fetcher:
                for _ in range(2):
                    bodies = await asyncio.gather(*(fetcher.get(s.url("/doc")) for s in servers for _ in range(3)))
                    assert [b.body for b in bodies] == [b"ok"] * 9
                    assert fetcher.open_hosts == 1  # not 3: two hosts' sockets closed
                await fetcher.get(servers[0].url("/doc"))
                return fetcher.open_hosts

        assert asyncio.run(go()) == 1
    finally:
        for server in servers:
            server.stop()
