"""Property tests for text cleaning: whatever the web sends, cleaning terminates, keeps no junk,
invents no text, and is stable when applied again."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flows.text.clean import (
    clean_paragraphs,
    clean_text,
    is_junk,
    normalize_text,
    split_paragraphs,
    title_and_body,
    title_from_text,
)
from flows.text.repeats import MIN_VERBATIM_WORDS, drop_repeated_passages, terms

PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text that looks like articles and junk: words, punctuation, shortcodes, control characters,
# exotic spaces, line breaks — drawn together so the generator hits the interesting mixtures.
_PIECES = st.sampled_from(
    [
        "China",
        "Taiwan",
        "the",
        "and",
        "trade",
        "tariffs",
        "Beijing",
        "Washington",
        "said",
        ".",
        ",",
        "?",
        "!",
        "…",
        ":",
        ";",
        '"',
        "”",
        "’",
        "(",
        ")",
        '[adinserter block="8"]',
        "[/caption]",
        "Subscribe to our newsletter",
        "By John Smith",
        "Reporting by Jane Doe",
        "©",
        "1e88aa00ffb1cc22dd33_converted",
        "photo.jpg",
        "P, noting",
        "\n",
        "\n\n",
        "\r\n",
        "\t",
        "\u00a0",
        "\u200b",
        "\ufeff",
        "\x00",
        "\x1b",
        "\x7f",
        "\ud800",
        "\udcff",
        "\u2028",
        "\u3000",
        "e\u0301",
        "ＡＢＣ",
        "中国",
        "美国",
        " ",
        "  ",
    ]
)
article_text = st.lists(st.one_of(_PIECES, st.text(max_size=12)), max_size=120).map(" ".join)
any_text = st.one_of(
    article_text, st.text(max_size=400), st.text(st.characters(codec=None, categories=None), max_size=100)
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")


@PROPS
@given(any_text)
@example("a\r\nb\rc")
@example("\x00\x00\x00")
def test_normalize_is_idempotent_and_leaves_no_controls(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert not _CONTROL.search(once)
    assert "\r" not in once
    once.encode("utf-8")  # storable: no lone surrogates
    assert unicodedata.is_normalized("NFC", once)
    for line in once.split("\n"):
        assert line == line.strip() and "  " not in line


@PROPS
@given(any_text)
def test_paragraphs_are_single_nonblank_lines(text: str) -> None:
    for p in split_paragraphs(text):
        assert p.strip() == p and p
        assert "\n" not in p


def _letters(s: str) -> set[str]:
    return {c for c in s if not c.isspace()}


@PROPS
@given(any_text)
def test_cleaning_keeps_no_junk_and_invents_nothing(text: str) -> None:
    cleaned = clean_text(text)
    paragraphs = cleaned.split("\n\n") if cleaned else []
    assert all(p and not is_junk(p) for p in paragraphs)
    assert not re.search(r"\[/?adinserter|\[/caption\]", cleaned)
    assert not _CONTROL.search(cleaned)
    # Every character shown comes from the input (after Unicode normalisation).
    assert _letters(cleaned) <= _letters(normalize_text(text))
    assert len("".join(cleaned.split())) <= len("".join(normalize_text(text).split()))


@PROPS
@given(any_text)
def test_cleaning_twice_changes_nothing(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once


@PROPS
@given(any_text)
def test_title_and_body_always_give_a_short_title(text: str) -> None:
    title, body = title_and_body(text)
    assert title and title.strip() == title
    assert all(p and not is_junk(p) for p in body)
    assert "\n" not in title


@PROPS
@given(st.lists(article_text.filter(str.strip), min_size=1, max_size=5), st.integers(3, 30))
def test_title_from_text_respects_word_budget(paragraphs: list[str], max_words: int) -> None:
    paragraphs = clean_paragraphs(paragraphs) or ["Fallback paragraph."]
    title = title_from_text(paragraphs, max_words=max_words)
    assert title
    assert len(title.split()) <= max_words + 1  # "… " marker may follow the budget


# ---------------------------------------------------------------- repeated passages

paragraph = st.lists(
    st.sampled_from(
        "china taiwan trade beijing washington tariffs export controls chips semiconductor fentanyl "
        "summit talks sanctions military drills navy strait diplomacy students visas climate".split()
    ),
    min_size=1,
    max_size=25,
).map(" ".join)


@PROPS
@given(st.lists(paragraph, max_size=12))
def test_repeats_keep_an_ordered_subsequence_first_kept(paragraphs: list[str]) -> None:
    kept = drop_repeated_passages(paragraphs)
    it = iter(paragraphs)
    assert all(any(p == q for q in it) for p in kept)  # subsequence, order preserved
    if paragraphs:
        assert kept[0] == paragraphs[0]
    assert drop_repeated_passages(kept) == kept


@PROPS
@given(st.lists(paragraph, min_size=1, max_size=8), st.data())
def test_a_verbatim_repeat_of_a_substantial_paragraph_is_shown_once(paragraphs, data) -> None:
    i = data.draw(st.integers(0, len(paragraphs) - 1))
    repeated = paragraphs + [paragraphs[i]]
    kept = drop_repeated_passages(repeated)
    if len(terms(paragraphs[i])) >= MIN_VERBATIM_WORDS:
        assert len(kept) <= len(paragraphs)
    else:
        assert kept[-1] == paragraphs[i] or len(kept) <= len(paragraphs)
