"""Run summaries: web text is escaped before it becomes markdown; links only to http(s)."""

import re
from datetime import datetime, timezone

from flows.records import SourceReport
from flows.service.artifacts import digest_markdown, feed_health_rows, issue_table, md_link, reports_from_rows

RESULT = {
    "id": "daily-2026-11-22",
    "html_path": "/srv/digests/daily-2026-11-22.html",
    "index_path": "/srv/digests/index.html",
    "n_stories": 2,
    "n_items": 3,
    "n_sources": 2,
    "deliveries": [],
    "headlines": [
        {
            "id": "taiwan",
            "name": "Taiwan",
            "n_stories": 2,
            "n_items": 3,
            "stories": [
                {
                    "title": "Click [here](javascript:alert(1)) <img src=x onerror=alert(1)>",
                    "link": "javascript:alert(1)",
                    "sources": ["Evil *Feed*"],
                },
                {"title": "Strait transit", "link": "https://news.example.org/a b(1)", "sources": ["BBC"]},
            ],
        }
    ],
}


def test_titles_are_escaped_and_only_http_links_are_made():
    assert md_link("x", "javascript:alert(1)") == "x"
    md = digest_markdown(
        RESULT,
        since=datetime(2026, 11, 21, 12, tzinfo=timezone.utc),
        until=datetime(2026, 11, 22, 12, tzinfo=timezone.utc),
        timezone="America/New_York",
    )
    assert "](javascript" not in md and not re.search(r"(?<!\\)<", md)  # no live link, no raw HTML
    assert r"Click \[here\]\(javascript:alert\(1\)\) \<img src=x onerror=alert\(1\)\>" in md
    assert r"Evil \*Feed\*" in md
    assert "[Strait transit](https://news.example.org/a%20b%281%29) — BBC" in md
    assert "**Window:** Sat 21 Nov 2026 07:00 – Sun 22 Nov 2026 07:00 (America/New_York)" in md
    assert "`/srv/digests/daily-2026-11-22.html`" in md
    assert "## Taiwan (2)" in md


def test_archive_url_makes_the_digest_a_link():
    md = digest_markdown(
        RESULT, since=None, until=None, timezone="UTC", archive_url="https://news.example.org/digests/"
    )
    assert "[daily-2026-11-22.html](https://news.example.org/digests/daily-2026-11-22.html)" in md
    assert "[archive index](https://news.example.org/digests/index.html)" in md


def test_issue_table_and_feed_health_rows_round_trip():
    assert issue_table(RESULT) == [{"issue": "Taiwan", "id": "taiwan", "stories": 2, "items": 3}]
    reports = [SourceReport("seeds", "ok", 5, 0, kind="seed"), SourceReport("BBC", "error", error="HTTP 503")]
    health = [
        {
            "url": "https://bbc.example/rss",
            "name": "BBC",
            "health": "failing",
            "consecutive_failures": 2,
            "last_success": None,
            "next_due": "2026-11-22T08:00:00+00:00",
            "items_total": 40,
        }
    ]
    rows = feed_health_rows(reports, health)
    assert rows[0] == {"source": "seeds", "kind": "seed", "status": "ok", "new": 5, "seen": 0, "error": ""}
    assert rows[1]["health"] == "failing" and rows[1]["failures"] == 2 and rows[1]["error"] == "HTTP 503"
    assert [(r.source, r.status, r.items_new, r.error, r.kind) for r in reports_from_rows(rows)] == [
        ("seeds", "ok", 5, None, "seed"),
        ("BBC", "error", 0, "HTTP 503", "feed"),
    ]
