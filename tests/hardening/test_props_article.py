"""Whatever a source hands over, an `Article` can be stored and shown: encodable text, a bounded
one-line title, bounded text, no placeholder dates, and an id that does not depend on the repair."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flows.records import MAX_TEXT_CHARS, MAX_TITLE_CHARS, Article, item_id_for

PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
raw_text = st.text(st.characters(codec=None, categories=None), max_size=300)


@PROPS
@given(raw_text, raw_text, raw_text, st.one_of(st.none(), st.datetimes(timezones=st.just(timezone.utc))))
@example("g\ud800", "T\x00i\x07tle\nnext\u2028x", "body \udfff", datetime(1, 1, 1, tzinfo=timezone.utc))
def test_any_article_is_storable_and_bounded(key: str, title: str, text: str, published) -> None:
    a = Article(
        key=key,
        source="s\ud800",
        source_kind="feed",
        url="http://x/\udc80",
        title=title,
        text=text,
        published=published,
        guid=key,
        summary_html=text,
    )
    for value in (a.key, a.source, a.url, a.title, a.text, a.guid, a.summary_html):
        value.encode("utf-8")
    assert len(a.title) <= MAX_TITLE_CHARS and len(a.text) <= MAX_TEXT_CHARS
    assert not any(c in a.title for c in "\n\r\t\x00\x1b\x7f\u2028")
    assert a.published is None or a.published.year >= 1970
    assert a.item_id == item_id_for(key)  # the id a source computed before the repair


def test_megabyte_title_and_text_are_cut_at_sane_lengths() -> None:
    a = Article(
        key="k",
        source="s",
        source_kind="feed",
        url="u",
        title="Taiwan " * 200_000,
        text=("A paragraph about trade.\n\n" * 50_000),
    )
    assert len(a.title) == MAX_TITLE_CHARS and a.title.endswith("…")
    assert MAX_TEXT_CHARS // 2 < len(a.text) <= MAX_TEXT_CHARS and a.text.endswith("trade.")
