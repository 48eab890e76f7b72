"""The query language: what each form means, and one-line errors for what cannot be read."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from flows.search.query import QueryError, Term, parse
from flows.store.search import fts5_expression


def test_words_phrases_or_not_prefix_and_filters():
    q = parse(
        '"entity list" huawei OR zte -soybeans chip* issue:Taiwan source:xinhua side:china '
        "since:2026-03-01 until:2026-03-31 story:abc"
    )
    assert q.groups == [[Term("entity list", phrase=True)], [Term("huawei"), Term("zte")], [Term("chip", prefix=True)]]
    assert q.exclude == [Term("soybeans")]
    assert (q.issues, q.sources, q.sides, q.stories) == (["taiwan"], ["xinhua"], ["china"], ["abc"])
    assert q.since == datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert q.until == datetime(2026, 4, 1, tzinfo=timezone.utc)  # until: takes in the whole day


def test_fts_expression_quotes_every_term():
    q = parse('nasa OR "x y" -"c d" AND')
    expr = fts5_expression(q.groups, q.exclude)
    assert expr == '(("nasa" OR "x y") AND ("AND")) NOT ("c d")'  # AND is a word, quoted: no FTS syntax


def test_not_a_filter_is_read_as_words():
    q = parse("http://example.org 10:30")
    assert [t.text for g in q.groups for t in g] == ["http://example.org", "10:30"]


@pytest.mark.parametrize(
    "text,message",
    [
        ('"open', "unbalanced quote"),
        ("since:yesterday", "is not a date"),
        ("side:moon", "unknown side"),
        ("OR taiwan", "OR must stand between"),
        ("taiwan OR", "nothing after it"),
        ("-taiwan", "only exclusions"),
        ("-issue:trade taiwan", "filters only narrow"),
        ("since:2026-03-02 until:2026-03-01", "since: must be before until:"),
        ("issue:", "needs a value"),
    ],
)
def test_errors_are_one_line(text, message):
    with pytest.raises(QueryError) as e:
        parse(text)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_punctuation_only_terms_are_dropped():
    assert parse('-- "" ...').is_empty
