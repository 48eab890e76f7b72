"""Property tests for digest rendering: whatever a feed puts in a title, summary, source name, link,
evidence or its own summary HTML, the archive page and the email show it as text (or as the
sanitizer's small allow-list) — no element, attribute, URL or style of its own."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html
from markupsafe import escape

from flows.digest.render import render_email, render_html, render_text
from flows.digest.safe_html import ALLOWED_TAGS, URL_SCHEMES, clean_feed_html
from flows.digest.select import DigestData, StoryEntry, Window, arrange

from .hostile import HOSTILE_STRINGS, XSS_HTML, active_content, assert_no_active_content

PROPS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)

hostile = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.text(max_size=60),
    st.lists(st.sampled_from(HOSTILE_STRINGS), min_size=1, max_size=4).map("".join),
)
hostile_html = st.one_of(
    st.sampled_from(XSS_HTML),
    st.text(max_size=60),
    st.lists(st.one_of(st.sampled_from(XSS_HTML), st.sampled_from(HOSTILE_STRINGS)), min_size=1, max_size=5).map(
        "".join
    ),
)
links = st.one_of(
    st.none(),
    st.sampled_from(HOSTILE_STRINGS).map(lambda s: "https://example.org/" + s),
    st.text(max_size=40).map(lambda s: "http://example.org/?q=" + s),
)
# Dates a hostile feed can produce, from year 1 to year 9999.
any_instant = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59), timezones=st.just(timezone.utc)
)
ISSUES = ["taiwan", "trade", "other"]


@st.composite
def stories(draw, key: str) -> StoryEntry:
    scores = draw(st.dictionaries(st.sampled_from(ISSUES[:2]), st.floats(0.5, 1.0), max_size=2))
    return StoryEntry(
        key=key,
        title=draw(hostile),
        url=draw(hostile),
        link=draw(links),
        sources=draw(st.lists(hostile, min_size=1, max_size=3)),
        published=draw(any_instant),
        reading_minutes=draw(st.integers(1, 60)),
        issue_scores=scores,
        relevance=draw(st.floats(0, 1)),
        summary=draw(hostile),
        summary_html=clean_feed_html(draw(hostile_html)),
        evidence={i: draw(hostile) for i in scores if draw(st.booleans())},
        n_items=draw(st.integers(1, 9)),
        updated=draw(st.booleans()),
    )


@st.composite
def digests(draw) -> DigestData:
    n = draw(st.integers(0, 5))
    entries = [draw(stories(f"k{i}")) for i in range(n)]
    since, until = sorted([draw(any_instant), draw(any_instant)])
    names = {"taiwan": draw(hostile), "trade": draw(hostile), "other": "Other"}
    return DigestData(
        id="daily-2026-01-01",
        period="daily",
        since=since,
        until=until,
        timezone=draw(
            st.sampled_from(["America/New_York", "Asia/Shanghai", "UTC", "Pacific/Kiritimati", "Etc/GMT+12"])
        ),
        stories=entries,
        windows=[Window(since, until, {s.key: s.issue_scores for s in entries})],
        issue_names=names,
        top_stories=2,
        max_per_issue=4,
    )


def _benign(data: DigestData) -> DigestData:
    """The same digest with every feed-supplied string made harmless: its tags are the template's."""
    entries = [
        replace(
            s,
            title="t",
            url="u",
            link="https://example.org/" if s.link else None,
            sources=["s"],
            summary="s",
            summary_html=clean_feed_html('<p><a href="https://x.example/">x</a> <b>b</b></p>'),
            evidence={k: "e" for k in s.evidence},
        )
        for s in data.stories
    ]
    return replace(data, stories=entries, issue_names={k: k for k in data.issue_names})


def _tags(html: str) -> set[str]:
    return {el.tag for el in lxml_html.document_fromstring(html).iter() if isinstance(el.tag, str)}


@PROPS
@given(digests())
@example(
    DigestData(
        id="x",
        period="daily",
        since=datetime(1, 1, 1, tzinfo=timezone.utc),
        until=datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc),
        timezone="Asia/Tokyo",
        stories=[],
        windows=[],
        issue_names={"other": "Other"},
    )
)
def test_archive_and_email_show_any_content_as_text_only(data: DigestData) -> None:
    content = arrange(data, None)
    page = render_html(content, PNG)
    mail = render_email(content, "https://news.example.org/digests/", "https://news.example.org/u?x=1", PNG)
    benign = arrange(_benign(data), None)
    benign_mail = render_email(benign, "https://news.example.org/digests/", "https://news.example.org/u?x=1", PNG)
    for html, template in ((page, render_html(benign, PNG)), (mail.html, benign_mail.html)):
        template_tags = _tags(template) | ALLOWED_TAGS
        assert_no_active_content(html)
        assert _tags(html) <= template_tags, sorted(_tags(html) - template_tags)
        doc = lxml_html.document_fromstring(html)
        for href in doc.xpath("//a/@href"):
            scheme = re.match(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*):", href)
            assert scheme is None or scheme.group(1).lower() in URL_SCHEMES, href
    for story in content.placed:
        assert str(escape(story.title)) in page  # shown as escaped text, verbatim
    render_text(content)  # the text/plain twin renders too (text is inert)


@PROPS
@given(hostile_html)
def test_feed_html_sanitizer_keeps_only_its_allow_list(raw: str) -> None:
    cleaned = clean_feed_html(raw)
    if cleaned is None:
        return
    doc = f"<html><body><div>{cleaned}</div></body></html>"
    assert not active_content(doc), active_content(doc)
    assert _tags(doc) <= ALLOWED_TAGS | {"html", "body", "div"}
