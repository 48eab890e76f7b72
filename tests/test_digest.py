"""Digest rendering: grouped by issue, hostile content escaped, index lists every digest."""

import re
from datetime import datetime, timedelta, timezone

from flows.models import Article
from flows.pipeline import DigestOptions, IngestOptions, classify_pending, run_digest, run_ingest, store_for
from flows.store.items import upsert_items

HOSTILE_TITLE = '<script>alert("x")</script><img src=x onerror=alert(1)> Taiwan & "trade"'


def test_digest_groups_escapes_and_indexes(settings):
    report = run_ingest(settings, IngestOptions(sources="seeds"))
    assert report.items_new == 5
    store = store_for(settings)
    upsert_items(store, [Article(
        key="https://evil.example/1", source="Evil <b>Feed</b>", source_kind="feed",
        url="javascript:alert(1)", title=HOSTILE_TITLE,
        text="Beijing warned Washington over arms sales to Taiwan. <iframe src=//evil></iframe> "
             "The US State Department approved the Taiwan package on Friday.")])
    classify_pending(settings)
    result = run_digest(settings)
    html = result.html_path.read_text()
    text = result.text_path.read_text()

    assert "<script>" not in html and "<img" not in html and "<iframe" not in html
    assert "&lt;script&gt;" in html and "&lt;iframe" in html
    assert 'href="javascript:' not in html                 # non-http URLs are never links
    assert "Evil &lt;b&gt;Feed&lt;/b&gt;" in html
    # Sections follow the taxonomy's order; every seed appears, each story once per section.
    sections = re.findall(r'<section id="([a-z_]+)">', html)
    assert sections[0] == "diplomacy" and "taiwan" in sections
    assert sections.index("military") < sections.index("taiwan") < sections.index("climate")
    for title in ("Rekindling Dialogue: Between China and the US",
                  "Why the U.S. and China can’t afford to walk away from each other"):
        assert title in html and title in text
    assert result.n_items == 6 and result.n_stories == 6
    assert "== Diplomacy & high-level engagement (5) ==" in text
    index = result.index_path.read_text()
    assert f'href="{result.id}.html"' in index


def test_rerun_replaces_todays_digest_and_next_period_does_not_repeat(settings):
    run_ingest(settings, IngestOptions(sources="seeds"))
    first = run_digest(settings)
    again = run_digest(settings)
    assert again.id == first.id and again.n_stories == first.n_stories == 5
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    nxt = run_digest(settings, DigestOptions(until=tomorrow))
    assert nxt.id != first.id and nxt.n_stories == 0
    assert "No new relevant items" in nxt.html_path.read_text()
    index = first.index_path.read_text()
    assert index.index(nxt.id) < index.index(first.id)       # newest first


def test_custom_window_and_issue_filter(settings):
    run_ingest(settings, IngestOptions(sources="seeds"))
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    result = run_digest(settings, DigestOptions(since=since, issues=["fentanyl"]))
    assert result.id.startswith("custom-")
    assert list(result.issue_counts) == ["fentanyl"]
    assert result.n_stories == 2          # 002 and 004 talk about fentanyl
