"""Rendering: the archive page, the email HTML and the text twin; hostile feeds stay harmless."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from newsroom import HOSTILE_TITLE, SINCE, UNTIL, Piece, add_pieces

from flows.config import load_taxonomy
from flows.digest.chart import render_chart
from flows.digest.render import MAX_EMAIL_HTML, render_email, render_html, render_text, subject_line
from flows.digest.select import select_content
from flows.records import Article
from flows.pipeline import DigestOptions, IngestOptions, classify_pending, run_digest, run_ingest, store_for
from flows.store.items import upsert_items


def content_for(settings, issues=None):
    taxonomy = load_taxonomy(settings.issues_file)
    return select_content(store_for(settings), settings, taxonomy, "daily-2026-05-12", "daily", SINCE, UNTIL, issues)


def tags(html: str) -> list[str]:
    return re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)\b", html)


def test_hostile_feed_content_is_escaped_or_sanitized(newsroom):
    d = content_for(newsroom)
    for html in (render_html(d), render_email(d, "https://news.example.org/d/", "https://u.example/x").html):
        assert "<script" not in html and "<iframe" not in html
        assert not re.search(r"<[^>]*\son[a-z]+=", html)  # no event handler attributes
        assert '&lt;script&gt;alert("x")&lt;/script&gt;' in html.replace("&#34;", '"')
        assert "Evil &lt;b&gt;Feed&lt;/b&gt;" in html
        assert 'href="javascript:' not in html and "javascript:alert" not in html.replace("&lt;", "")
        assert "onclick" not in html and "tracker.example" not in html
        assert not re.search(r'href="data:', html)
        assert set(tags(html)) <= {
            "html",
            "head",
            "meta",
            "title",
            "style",
            "body",
            "div",
            "table",
            "tr",
            "td",
            "p",
            "a",
            "span",
            "b",
            "img",
            "h1",
            "br",
            "tbody",
        }
        assert len(re.findall(r"<img\b", html)) == 1  # the chart only
    # The feed's own summary (the item's text is too short to quote) survives, cleaned.
    archive = render_html(d)
    assert 'Feed <b>summary</b> <a rel="noopener noreferrer nofollow">click</a>' in archive
    assert '<a href="https://news.example.org/ok" rel="noopener noreferrer nofollow">read</a>' in archive
    assert "Feed summary click read" in render_text(d)  # the text twin: tags stripped
    # A non-http URL is never a link: the hostile headline is plain text.
    assert '<span class="story-title">&lt;script&gt;' in archive


def test_archive_page_is_standalone_with_the_chart_inline(newsroom):
    html = render_html(content_for(newsroom))
    assert re.search(r'<img class="chart" src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', html)
    assert "cid:" not in html and "<link" not in html and "http-equiv" not in html
    assert 'href="index.html"' in html and 'href="daily-2026-05-12.txt"' in html
    assert "Tuesday 12 May 2026" in html and "Daily briefing" in html
    assert re.search(r"<b>13</b>stories.*<b>8</b>sources.*<b>21</b>items", html, re.S)
    assert 'Trade &amp; tariffs ▼</span>, <span class="up">Taiwan ▲ 3×' in html


def test_email_html_is_inlined_small_and_references_the_chart_by_cid(newsroom):
    d = content_for(newsroom)
    mail = render_email(d, "https://news.example.org/digests", "https://news.example.org/u?a=x")
    html = mail.html
    assert len(html.encode()) < MAX_EMAIL_HTML
    assert f'src="cid:{mail.chart_cid}"' in html and "data:image" not in html
    assert 'role="presentation"' in html and "<!--[if mso]>" in html  # tables, Outlook's width
    style_blocks = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert len(style_blocks) == 1 and style_blocks[0].lstrip().startswith("@media")  # only what can't inline
    assert re.search(r'<h1 style="[^"]*font:[^"]*Georgia', html)
    assert 'href="https://news.example.org/digests/daily-2026-05-12.html"' in html
    assert re.search(r'<a href="https://news.example.org/u\?a=x"[^>]*>Unsubscribe</a>', html)
    assert mail.subject == "US–China daily · 12 May 2026 · Taiwan, Trade & tariffs, Technology & export controls"
    assert mail.chart_png.startswith(b"\x89PNG") and mail.chart_alt in html.replace("&amp;", "&")
    assert "You receive all issues." in mail.text


def test_a_huge_day_still_fits_under_100_kb_with_the_rest_in_the_archive(settings):
    pieces = [
        Piece(
            f"Source {n % 40}",
            f"Story number {n} about Taiwan and trade between the two powers",
            [
                f"Report {n}: officials in Washington and Beijing discussed Taiwan and tariffs at length, "
                "according to people familiar with the talks who asked not to be named."
            ],
            {["taiwan", "trade", "technology", "military"][n % 4]: 0.9},
            hours_ago=1 + n % 20,
        )
        for n in range(400)
    ]
    add_pieces(store_for(settings), pieces, UNTIL)
    d = content_for(settings)
    assert d.n_stories == 400
    mail = render_email(d, "https://news.example.org/digests/", "https://u.example/")
    assert len(mail.html.encode()) <= MAX_EMAIL_HTML
    assert re.search(
        r'\d+ more stories on Taiwan in <a href="https://news.example.org/digests/'
        r'daily-2026-05-12.html#taiwan"[^>]*>the full digest</a>',
        mail.html,
    )
    assert "100 stories" in mail.html  # counts stay whole
    page, text = render_html(d), render_text(d)  # the archive copy has them all
    assert all(
        f"Story number {n} about Taiwan" in page and f"Story number {n} about Taiwan" in text for n in range(400)
    )
    assert "more stories on" not in page


def test_text_twin_has_the_same_content(newsroom):
    d = content_for(newsroom)
    text = render_text(d)
    assert text.startswith("US–CHINA DIGEST · DAILY BRIEFING\nTuesday 12 May 2026\n13 stories · 8 sources · 21 items")
    assert "TOP STORIES" in text and "1. US approves $2 billion arms package for Taiwan" in text
    assert "TAIWAN · 3 stories · ▲ 3×\n-------------------------\n" in text
    assert "4 sources: AP, BBC News, Reuters, The Guardian" in text
    assert "https://news.example.org/reuters-0" in text
    assert "TREND\n=====\nTrend chart of stories per issue" in text
    for section in d.sections:
        for story in section.stories:
            assert story.title in text


def test_subject_and_empty_digest(settings):
    d = content_for(settings)
    assert d.sections == []
    assert subject_line(d) == "US–China daily · 12 May 2026 · no new stories"
    assert "No new stories on US–China relations in this period." in render_html(d)
    png = render_chart(d.trend)
    assert png.startswith(b"\x89PNG")


# ------------------------------------------------------------------ through the pipeline, on the seeds


def test_seed_digest_escapes_and_indexes(settings):
    report = run_ingest(settings, IngestOptions(sources="seeds"))
    assert report.items_new == 5
    upsert_items(
        store_for(settings),
        [
            Article(
                key="https://evil.example/1",
                source="Evil <b>Feed</b>",
                source_kind="feed",
                url="javascript:alert(1)",
                title=HOSTILE_TITLE,
                text="Beijing warned Washington over arms sales to Taiwan. <iframe src=//evil></iframe> "
                "The US State Department approved the Taiwan package on Friday.",
            )
        ],
    )
    classify_pending(settings)
    result = run_digest(settings)
    html = result.html_path.read_text()
    text = result.text_path.read_text()
    assert "<script>" not in html and "<iframe" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html and "Evil &lt;b&gt;Feed&lt;/b&gt;" in html
    for title in (
        "The three top American officials who traveled to Beijing in recent weeks",
        "Why the U.S. and China can’t afford to walk away from each other",
    ):
        assert title in html and title in text
    # Seed 000 is a rewrite of seed 002: one story, shown under the original's title.
    assert "Rekindling Dialogue" not in html
    assert result.n_items == 6 and result.n_stories == 5
    assert sum(result.issue_counts.values()) == 5  # each story in one section
    assert oct(result.html_path.stat().st_mode & 0o777) == "0o644"
    index = result.index_path.read_text()
    assert f'href="{result.id}.html"' in index and f'href="{result.id}.txt"' in index


def test_rerun_replaces_todays_digest_and_index_is_newest_first(settings):
    run_ingest(settings, IngestOptions(sources="seeds"))
    first = run_digest(settings)
    again = run_digest(settings)
    assert again.id == first.id and again.n_stories == first.n_stories == 4  # seeds 000 + 002: one story
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    nxt = run_digest(settings, DigestOptions(until=tomorrow))
    assert nxt.id != first.id and nxt.n_stories == 0
    assert "No new stories" in nxt.html_path.read_text()
    index = first.index_path.read_text()
    assert index.index(nxt.id) < index.index(first.id)
    assert "Diplomacy &amp; high-level engagement" in index  # top issues, by name


def test_custom_window_and_issue_filter(settings):
    run_ingest(settings, IngestOptions(sources="seeds"))
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    result = run_digest(settings, DigestOptions(since=since, issues=["fentanyl"]))
    assert result.id.startswith("custom-")
    assert list(result.issue_counts) == ["fentanyl"]
    assert result.n_stories == 2  # 002 and 004 talk about fentanyl
