"""Hostile input end to end: bombs, endless and huge bodies, absurd dates, 10,000 entries, megabyte
titles, control characters, invalid UTF-8, XSS payloads and feedparser's own edge cases, all served
on loopback to one real `uschina-digest ingest`, then a digest.

Each must cost bounded time and memory, leave a recorded error (or a bounded, clean result), and
nothing executable may reach the store's sanitized HTML, the digest or the email.
"""

from __future__ import annotations

import email
import json
import re
import sqlite3
from datetime import datetime, timezone
from email import policy
from pathlib import Path

import pytest

from flows.config import load_settings
from flows.pipeline import DigestOptions, run_digest
from tests.faultserver import FaultServer, billion_laughs, endless_feed, external_entity_feed, gzip_bomb, json_feed

from .hostile import XSS_HTML, active_content, assert_no_active_content
from .memwatch import need_proc
from tests.material import shared_path

from .util import FIXTURES, RELEVANT_TEXT, make_project, run_cli

MAX_BYTES = 4 * 1024 * 1024
MAX_ITEMS = 60
MEMORY_LIMIT_MB = 2500  # the CLI, its fork server and two workers, all together
TIME_LIMIT_S = 240


def _rss(items: list[str], title: str = "hostile") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode("utf-8", "surrogatepass")


def _item(
    guid: str, title: str, link: str, *, date: str = "Mon, 02 Feb 2026 10:00:00 GMT", description: str = RELEVANT_TEXT
) -> str:
    return (
        f'<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{guid}</guid>'
        f"<pubDate>{date}</pubDate><description>{description}</description></item>"
    )


def _edge_headers(raw: bytes) -> dict[str, str]:
    """The HTTP headers a feedparser test case asks for in its `Header:` comment lines."""
    headers = {}
    for m in re.finditer(rb"^Header:\s*([\w-]+):\s*(.*?)\s*$", raw[:2000], re.M):
        headers[m.group(1).decode("latin-1")] = m.group(2).decode("latin-1")
    return headers


def serve_hostile(fs: FaultServer, root: Path) -> tuple[dict[str, str], dict[str, str], str]:
    """Register every hostile route on a running server: (hostile feeds, feedparser edge feeds, canary path)."""
    base = fs.base_url
    canary = "/hostile/xxe-canary"
    fs.route(canary, b"LEAKED-CANARY", "text/plain")
    Path(root / "secret.txt").write_text("root:x:0:0:LEAKED-FILE\n")
    feeds = {
        "billion-laughs": fs.route("/hostile/billion-laughs.xml", billion_laughs(10), "application/rss+xml"),
        "xxe-file": fs.route(
            "/hostile/xxe-file.xml", external_entity_feed(f"file://{root}/secret.txt"), "application/rss+xml"
        ),
        "xxe-http": fs.route("/hostile/xxe-http.xml", external_entity_feed(base + canary), "application/rss+xml"),
        "endless": fs.route("/hostile/endless.xml", endless_feed, "application/rss+xml"),
        "gzip-bomb": fs.route(
            "/hostile/gzip-bomb.xml", gzip_bomb(96), "application/rss+xml", headers={"Content-Encoding": "gzip"}
        ),
        "huge-declared": fs.route("/hostile/huge.xml", b"x" * (MAX_BYTES + 1), "application/rss+xml"),
        "absurd-dates": fs.route(
            "/hostile/dates.xml",
            _rss(
                [
                    _item(f"date-{i}", f"Taiwan arms sale report {i}", f"{base}/nowhere/date-{i}", date=d)
                    for i, d in enumerate(
                        [
                            "Mon, 01 Jan 0001 00:00:00 GMT",
                            "0000-00-00T00:00:00Z",
                            "Fri, 31 Dec 9999 23:59:59 GMT",
                            "9999-12-31T23:59:59+14:00",
                            "Sat, 01 Jan 2999 00:00:00 GMT",
                            "Thu, 01 Jan 1970 00:00:00 GMT",
                            "Mon, 01 Jan 1900 00:00:00 GMT",
                            "2026-13-45T99:99:99Z",
                            "-0001-01-01T00:00:00Z",
                            "not a date at all",
                        ]
                    )
                ]
            ),
            "application/rss+xml",
        ),
        "many": fs.route(
            "/hostile/many.xml",
            _rss(
                [
                    _item(f"many-{i}", f"Entry {i} on Taiwan arms sales", f"{base}/nowhere/many-{i}")
                    for i in range(10_000)
                ]
            ),
            "application/rss+xml",
        ),
        "mega-title": fs.route(
            "/hostile/mega-title.xml",
            _rss(
                [
                    _item("mega-1", "Taiwan " + "arms sale " * 100_000, f"{base}/nowhere/mega-1"),
                    _item(
                        "mega-2", "Normal title about Taiwan", f"{base}/nowhere/mega-2", description="China " * 300_000
                    ),
                ]
            ),
            "application/rss+xml",
        ),
        "controls": fs.route(
            "/hostile/controls.xml",
            _rss(
                [
                    _item("ctl-1", "Nul\x00 and bell\x07 and esc\x1b[31m Taiwan", f"{base}/nowhere/ctl-1"),
                    _item("ctl-2", "Surrogate &#xD800; and &#1114112; Taiwan", f"{base}/nowhere/ctl-2"),
                ]
            ).replace(b"Taiwan arms", b"Taiwan \xff\xfe\xc0\xaf arms"),
            "application/rss+xml",
        ),
        "json-surrogates": fs.route(
            "/hostile/surrogates.json",
            json_feed(
                [
                    {
                        "id": "js-1",
                        "url": f"{base}/nowhere/js-1",
                        "title": "Lone \ud800 surrogate on Taiwan",
                        "content_text": RELEVANT_TEXT + " \udfff",
                    },
                    {
                        "id": "js-2",
                        "url": f"{base}/nowhere/js-2",
                        "title": "Second entry on Taiwan",
                        "content_text": RELEVANT_TEXT,
                    },
                ]
            ).replace(b"\\ud800", b"\\ud800"),
            "application/feed+json",
        ),
        "xss": fs.route(
            "/hostile/xss.xml",
            _rss(
                [
                    _item(
                        f"xss-{i}",
                        f"<![CDATA[{payload} Taiwan arms sale {i}]]>",
                        f"{base}/hostile/xss-page-{i}",
                        description=f"<![CDATA[{payload}<p>{RELEVANT_TEXT}</p>]]>",
                    )
                    for i, payload in enumerate(XSS_HTML)
                ]
                + [
                    _item("xss-js-link", "Taiwan arms with a javascript link", "javascript:alert(1)"),
                    _item("xss-data-link", "Taiwan arms with a data link", "data:text/html,<script>alert(1)</script>"),
                ]
            ),
            "application/rss+xml",
        ),
        "huge-page-feed": fs.route(
            "/hostile/huge-page-feed.xml",
            _rss([_item("huge-page-1", "Huge page about Taiwan arms", f"{base}/hostile/huge-page.html")]),
            "application/rss+xml",
        ),
    }
    fs.route(
        "/hostile/huge-page.html",
        lambda: (b"<p>" + b"China Taiwan " * 8000 + b"</p>" for _ in range(1000)),
        "text/html",
    )
    for i, payload in enumerate(XSS_HTML):
        fs.route(
            f"/hostile/xss-page-{i}",
            f"<html><body><article><h1>Taiwan</h1>{payload}<p>{RELEVANT_TEXT}</p>"
            f"<p>{RELEVANT_TEXT}</p>{payload}</article></body></html>".encode(),
            "text/html",
        )
    edge_dir = FIXTURES / "feedparser-edge"
    edge = {}
    if edge_dir.is_dir():
        for path in sorted(edge_dir.rglob("*.xml")):
            rel = path.relative_to(edge_dir).as_posix()
            raw = path.read_bytes()
            headers = _edge_headers(raw)
            ctype = headers.pop("Content-type", headers.pop("Content-Type", "application/xml"))
            edge[rel] = fs.route(f"/edge/{rel}", raw, ctype, headers=headers)
    return feeds, edge, canary


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """One ingest of every hostile feed, then a digest; returns what the checks need."""
    need_proc()
    root = tmp_path_factory.mktemp("hostile")
    with FaultServer(feeds_dir=None, pages_dir=None) as fs:
        feeds, edge, canary = serve_hostile(fs, root)
        config = make_project(
            root,
            feeds=[{"url": u, "name": n} for n, u in {**feeds, **edge}.items()],
            fetch={
                "allow_private_addresses": True,
                "max_bytes": MAX_BYTES,
                "connect_timeout": 3,
                "read_timeout": 5,
                "max_items_per_feed": MAX_ITEMS,
                "full_text": True,
            },
        )
        report_path = root / "report.json"
        code, out, err, sampler = run_cli(
            "ingest",
            "--config",
            str(config),
            "--force",
            "--report",
            str(report_path),
            timeout=TIME_LIMIT_S,
            mem_limit_mb=MEMORY_LIMIT_MB,
        )
        # No SMTP host: the email is built and kept in the outbox, where the test reads it.
        digest = run_digest(
            load_settings(config),
            DigestOptions(since=datetime(2000, 1, 1, tzinfo=timezone.utc), send=True, to="reader@example.org"),
        )
        yield {
            "code": code,
            "err": err,
            "sampler": sampler,
            "root": root,
            "feeds": feeds,
            "edge": edge,
            "report": json.loads(report_path.read_text()) if report_path.exists() else None,
            "requests": dict(fs.requests),
            "digest": digest,
            "canary": canary,
        }


def _source(run, name: str) -> dict:
    matches = [s for s in run["report"]["sources"] if s["source"] == name]
    assert len(matches) == 1, f"no single report for {name}: {run['report']['sources']}"
    return matches[0]


def _db(run) -> sqlite3.Connection:
    return sqlite3.connect(run["root"] / "data" / "uschina-digest.sqlite3")


def test_ingest_finishes_in_bounded_time_and_memory(hostile_run) -> None:
    sampler = hostile_run["sampler"]
    assert hostile_run["code"] == 0, (
        f"ingest failed or was killed (peak {sampler.peak_mb:.0f} MB):\n{hostile_run['err'][-3000:]}"
    )
    assert sampler.peak_mb < MEMORY_LIMIT_MB
    err = hostile_run["err"]
    assert "Traceback" not in err, err[max(0, err.find("Traceback") - 300) : err.find("Traceback") + 3000]
    print(f"hostile ingest: peak {sampler.peak_mb:.0f} MB over {sampler.samples[-1][0]:.1f} s")


@pytest.mark.parametrize(
    "name, why", [("endless", r"exceeds|limit"), ("gzip-bomb", r"exceeds|limit"), ("huge-declared", r"exceeds|limit")]
)
def test_oversized_bodies_are_cut_off_with_a_recorded_error(hostile_run, name: str, why: str) -> None:
    source = _source(hostile_run, name)
    assert source["status"] == "error" and re.search(why, source["error"]), source
    with _db(hostile_run) as db:
        health = db.execute(
            "select last_error, consecutive_failures from feeds where url = ?", (hostile_run["feeds"][name],)
        ).fetchone()
    assert health and health[0] and health[1] >= 1


def test_entity_bombs_and_external_entities_expand_nothing(hostile_run) -> None:
    assert hostile_run["requests"].get(hostile_run["canary"], 0) == 0, "an external entity was fetched"
    with _db(hostile_run) as db:
        rows = db.execute("select title, text, coalesce(summary_html, '') from items").fetchall()
    assert not [r for r in rows if any("LEAKED" in (v or "") for v in r)], "an external entity was read"
    assert not [r for r in rows if "lollollol" in (r[0] + r[1])], "an entity bomb was expanded"
    for name in ("billion-laughs", "xxe-file", "xxe-http"):
        source = _source(hostile_run, name)
        assert source["status"] in ("ok", "error") and (source["status"] == "ok" or source["error"])


def test_a_huge_article_page_falls_back_to_the_feed_text(hostile_run) -> None:
    assert _source(hostile_run, "huge-page-feed")["items_new"] == 1
    with _db(hostile_run) as db:
        extraction, note = db.execute(
            "select extraction, extraction_note from items where guid = 'huge-page-1'"
        ).fetchone()
    assert extraction == "feed" and re.search(r"exceeds|limit", note or ""), (extraction, note)


def test_ten_thousand_entries_store_the_configured_maximum(hostile_run) -> None:
    assert _source(hostile_run, "many")["items_new"] == MAX_ITEMS
    with _db(hostile_run) as db:
        assert db.execute("select count(*) from items where guid like 'many-%'").fetchone()[0] == MAX_ITEMS


def test_absurd_dates_are_stored_as_plausible_utc_times(hostile_run) -> None:
    with _db(hostile_run) as db:
        rows = db.execute("select guid, published, first_seen, undated from items where guid like 'date-%'").fetchall()
    assert len(rows) == 10
    for guid, published, first_seen, undated in rows:
        assert published[:4] >= "1900" and published <= first_seen[:19] + "~", (guid, published, first_seen)


def test_megabyte_titles_and_texts_are_stored_bounded(hostile_run) -> None:
    with _db(hostile_run) as db:
        rows = dict(db.execute("select guid, length(title) from items where guid like 'mega-%'").fetchall())
    assert set(rows) == {"mega-1", "mega-2"}
    assert max(rows.values()) <= 2000, f"a title of {max(rows.values())} characters reached the store"


def test_control_characters_invalid_utf8_and_surrogates_lose_no_entry(hostile_run) -> None:
    for name, guids in (("controls", {"ctl-1", "ctl-2"}), ("json-surrogates", {"js-1", "js-2"})):
        source = _source(hostile_run, name)
        assert source["status"] == "ok" and source["items_new"] == 2, source
    with _db(hostile_run) as db:
        rows = db.execute("select title, text from items where guid in ('ctl-1','ctl-2','js-1','js-2')").fetchall()
    assert len(rows) == 4
    for title, text in rows:
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", title + text), repr(title)


def test_feedparser_edge_cases_each_give_entries_or_a_recorded_error(hostile_run) -> None:
    shared_path("fixtures", "feedparser-edge")
    for name in hostile_run["edge"]:
        source = _source(hostile_run, name)
        assert source["status"] in ("ok", "error", "not_modified"), source
        if source["status"] == "error":
            assert source["error"] and "internal error" not in source["error"], source


def test_nothing_executable_reaches_the_store_digest_or_email(hostile_run) -> None:
    with _db(hostile_run) as db:
        rows = db.execute("select guid, url, coalesce(summary_html, '') from items").fetchall()
    for guid, url, summary in rows:
        assert not re.match(r"\s*(?:javascript|vbscript|data):", url, re.I), (guid, url)
        assert not active_content(f"<html><body>{summary}</body></html>"), (guid, summary[:300])
    html = hostile_run["digest"].html_path.read_text(encoding="utf-8")
    assert "Taiwan arms sale" in html, "the hostile items did not reach the digest, so it proves nothing"
    assert_no_active_content(html)
    messages = list((hostile_run["root"] / "digests").rglob("*.eml"))
    assert messages, "no email was built, so the email proves nothing"
    for path in messages:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        html = message.get_body(("html",)).get_content()
        assert "Taiwan arms sale" in html
        assert_no_active_content(html)
