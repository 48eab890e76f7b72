"""Property tests for digest rendering: whatever a feed puts in a title, snippet, source name,
link or evidence, the HTML digest shows it as text — no element, attribute, URL or style of its own.
"""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html
from markupsafe import escape

from flows.digest.render import render_html, render_text
from flows.digest.select import DigestContent, IssueSection, StoryEntry, snippet

from .hostile import HOSTILE_STRINGS, assert_no_active_content

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Only these elements come from the template; anything else would be the content's own markup.
TEMPLATE_TAGS = {"html", "head", "meta", "title", "style", "body", "div", "header", "h1", "h2", "h3",
                 "section", "article", "a", "p", "footer"}

hostile = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=80),
                    st.lists(st.sampled_from(HOSTILE_STRINGS), min_size=1, max_size=4).map("".join))
links = st.one_of(st.none(), st.sampled_from(HOSTILE_STRINGS).map(lambda s: "https://example.org/" + s),
                  st.text(max_size=40).map(lambda s: "http://example.org/?q=" + s))
# Dates a hostile feed can produce, from year 1 to year 9999.
any_instant = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59),
                           timezones=st.just(timezone.utc))


@st.composite
def stories(draw) -> StoryEntry:
    return StoryEntry(
        key=draw(st.text(min_size=1, max_size=16)), title=draw(hostile), url=draw(hostile),
        link=draw(links), sources=draw(st.lists(hostile, min_size=1, max_size=3)),
        published=draw(any_instant), snippet=draw(hostile), reading_minutes=draw(st.integers(1, 60)),
        issues=["taiwan"], relevance=draw(st.floats(0, 1)),
        evidence={"taiwan": draw(hostile)} if draw(st.booleans()) else {},
        n_items=draw(st.integers(1, 9)), updated=draw(st.booleans()),
    )


@st.composite
def digests(draw) -> DigestContent:
    sections = [IssueSection(draw(st.sampled_from(["taiwan", "trade", "other"])), draw(hostile),
                             draw(st.lists(stories(), min_size=1, max_size=4)))
                for _ in range(draw(st.integers(0, 3)))]
    since, until = sorted([draw(any_instant), draw(any_instant)])
    return DigestContent(id="daily-2026-01-01", period="daily", since=since, until=until,
                         timezone=draw(st.sampled_from(["America/New_York", "Asia/Shanghai", "UTC",
                                                        "Pacific/Kiritimati", "Etc/GMT+12"])),
                         sections=sections, n_items=1, n_sources=1)


@PROPS
@given(digests())
@example(DigestContent(id="x", period="daily", since=datetime(1, 1, 1, tzinfo=timezone.utc),
                       until=datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc), timezone="Asia/Tokyo",
                       sections=[], n_items=0, n_sources=0))
def test_html_digest_shows_any_content_as_text_only(content: DigestContent) -> None:
    out = render_html(content)
    assert_no_active_content(out)
    doc = lxml_html.document_fromstring(out)
    assert {el.tag for el in doc.iter() if isinstance(el.tag, str)} <= TEMPLATE_TAGS
    assert len(doc.xpath("//style")) == 1 and not doc.xpath("//*[@style]")
    titles = doc.xpath("//article/h3")
    shown = [s for sec in content.sections for s in sec.stories]
    assert len(titles) == len(shown)
    for h3, story in zip(titles, shown):
        assert str(escape(story.title)) in out          # shown as escaped text, verbatim
        hrefs = h3.xpath(".//a/@href")
        assert len(hrefs) == (1 if story.link else 0)
        assert all(h.startswith(("http://", "https://")) for h in hrefs)
    render_text(content)        # the plain-text part renders too


@PROPS
@given(st.text(max_size=2000), st.integers(20, 600))
def test_snippet_fits_its_budget(text: str, budget: int) -> None:
    out = snippet(text, budget)
    assert len(out) <= budget
    assert "\n\n" not in out
