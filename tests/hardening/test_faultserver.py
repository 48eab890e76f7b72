"""The fault server does what it says: each fault looks to a real client as it would from the web,
decisions repeat with the seed, and nothing it serves points off the machine."""

from __future__ import annotations

import re

import feedparser
import httpx
import pytest

from tests.faultserver import FAULTS, FaultServer

from .util import need_fixtures


@pytest.fixture(scope="module")
def server():
    need_fixtures()
    with FaultServer(seed=7, hang_s=1.5, drip_s=0.3) as fs:
        yield fs


def test_serves_feeds_with_validators_and_rewritten_links(server: FaultServer) -> None:
    url = server.feed_urls()[0]
    with httpx.Client(timeout=5) as client:
        first = client.get(url)
        assert first.status_code == 200 and first.headers["etag"]
        assert first.headers["content-type"] in (
            "application/atom+xml",
            "application/rss+xml",
            "application/rdf+xml",
            "application/xml",
            "application/feed+json",
        )
        parsed = feedparser.parse(first.content)
        raw = feedparser.parse((server.feeds_dir / server.feed_files()[0]).read_bytes())
        assert parsed.version == raw.version and len(parsed.entries) == len(raw.entries) > 0
        assert all(e.link.startswith(server.base_url + "/ext/") for e in parsed.entries)
        again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        ext = client.get(re.search(rb"http://127\.0\.0\.1:\d+/ext/[^\s\"'<>]+", first.content).group().decode())
        assert ext.status_code == 200 and b"<html" in ext.content.lower()


def _get(server: FaultServer, path: str, fault: str | None) -> httpx.Response | Exception:
    server.script(path, fault)
    try:
        with httpx.Client(timeout=httpx.Timeout(1.0)) as client:
            return client.get(server.url(path), headers={"Accept-Encoding": "gzip"})
    except httpx.HTTPError as e:
        return e


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_looks_like_the_real_failure(server: FaultServer, fault: str) -> None:
    path = "/feeds/" + server.feed_files()[1]
    clean = _get(server, path, None)
    assert isinstance(clean, httpx.Response) and clean.status_code == 200
    before = server.stats[fault]
    got = _get(server, path, fault)
    assert server.stats[fault] == before + 1
    if fault == "status_5xx":
        assert isinstance(got, httpx.Response) and got.status_code in (500, 502, 503, 504)
    elif fault in ("reset", "truncate"):
        assert isinstance(got, (httpx.RemoteProtocolError, httpx.ReadError)), got
    elif fault == "timeout":
        assert isinstance(got, httpx.ReadTimeout)
    elif fault == "bad_gzip":
        assert isinstance(got, httpx.DecodingError)
    elif fault == "corrupt":
        assert got.status_code == 200 and got.content != clean.content and len(got.content) == len(clean.content)
    elif fault == "slow_drip":
        assert got.content == clean.content and got.elapsed.total_seconds() >= 0.2
    elif fault == "wrong_type":
        assert got.content == clean.content and got.headers["content-type"] != clean.headers["content-type"]
    elif fault == "etag_change":
        assert got.content == clean.content and got.headers["etag"] != clean.headers["etag"]


def test_random_faults_repeat_with_the_seed() -> None:
    need_fixtures()
    runs = []
    for _ in range(2):
        with FaultServer(seed=42, rate=0.5, faults=["status_5xx", "wrong_type", "etag_change"]) as fs:
            with httpx.Client(timeout=5) as client:
                for name in fs.feed_files()[:12]:
                    client.get(fs.url(f"/feeds/{name}"))
            runs.append([f for _, _, f in fs.log])
    assert runs[0] == runs[1] and any(runs[0]) and not all(runs[0])
