"""Quotations and their speakers: rules on small cases, seed 002, and the labelled set's figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.quotes import extract_quotes, quoted_spans
from flows.quotes.evaluation import evaluate, load_labelled, same_speaker

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = Path(__file__).parent / "testdata"
SEED_002 = ROOT / "seeds" / "002_4535c379219a8ba7.txt"

# The floors sit a little below the figures measured at the end (docs/sides.md: dev 0.986 / 0.945,
# frozen 0.989 / 0.891, frozen2 1.000 / 0.814), so a rule change that loses quotes or misattributes
# them fails here. (Both frozen parts were first measured held out; docs/sides.md gives those figures.)
FLOORS = {"dev": (0.96, 0.92), "frozen": (0.95, 0.85), "frozen2": (0.95, 0.78)}


def pairs(text: str) -> list[tuple[str, str]]:
    return [(q.speaker, q.text) for q in extract_quotes(text)]


def test_inverted_attribution_with_role_and_offsets():
    text = "“This contact reduces the risk,” said Chong Ja Ian, an associate professor at NUS."
    [quote] = extract_quotes(text)
    assert (quote.speaker, quote.role) == ("Chong Ja Ian", "an associate professor at NUS")
    assert text[quote.start : quote.end] == "“This contact reduces the risk,”"
    assert quote.text == "This contact reduces the risk"


def test_straight_quotes_pronoun_and_next_sentence():
    text = (
        "Shi Yinhong, a professor at Renmin University, spoke on Monday.\n"
        '"Neither side has given ground," he said. "Both are escalating."'
    )
    assert pairs(text) == [("Shi Yinhong", "Neither side has given ground"), ("Shi Yinhong", "Both are escalating.")]


def test_subject_before_the_quote_and_surname_expanded():
    text = (
        "Sequential visits by climate envoy John Kerry and top diplomat Wang Yi were hailed.\n"
        "While Kerry stressed that the two countries “cannot let differences stand in the way”, "
        "China’s top diplomat Wang insisted this cooperation “cannot be separated from the overall environment.”"
    )
    assert pairs(text) == [
        ("John Kerry", "cannot let differences stand in the way"),
        ("Wang Yi", "cannot be separated from the overall environment."),
    ]


def test_quote_continued_in_the_next_paragraph():
    text = (
        '"The steroids had a transformative effect," Taylor wrote. "I stopped them completely.\n\n'
        '"I have not had any dizzy turns since recovering."'
    )
    assert [s for s, _ in pairs(text)] == ["Taylor", "Taylor", "Taylor"]


def test_titles_terms_and_hypothetical_speech_have_no_speaker():
    text = (
        'The service carries "Star Wars," "Mary Poppins" and "Bambi."\n'
        'The United States has kept a policy of "strategic ambiguity" on Taiwan.\n'
        'As Sherlock would say, "Elementary, my dear Watson."'
    )
    assert pairs(text) == []


def test_a_description_is_kept_as_the_text_gives_it():
    text = '"We received an inquiry and are cooperating," said a WeWork spokesperson when contacted by Reuters.'
    assert pairs(text) == [("a WeWork spokesperson", "We received an inquiry and are cooperating")]


def test_unclosed_quote_runs_to_the_paragraph_end():
    assert quoted_spans('He said "it goes on\nand on') == [(8, 19)]


def test_seed_002_speakers():
    """The issue's check: at least 10 of seed 002's quotations with the right speaker, none wrong."""
    expected = [
        "Chong Ja Ian",
        "Suisheng Zhao",
        "Kerry",
        "Wang Yi",
        "Yellen",
        "Li Qiang",
        "Shi Yinhong",
        "Shen Dingli",
        "Blinken",
        "Yun Sun",
    ]
    [labelled] = (
        [
            t
            for t in load_labelled(TESTDATA / "labelled_dev.jsonl", ROOT, ROOT.parent / "shared" / "fixtures" / "pages")
            if t.source.startswith("seeds/002")
        ]
        if (ROOT.parent / "shared").exists()
        else [None]
    )
    quotes = extract_quotes(SEED_002.read_text(encoding="utf-8"))
    found = {name for name in expected if any(same_speaker(q.speaker, [name]) for q in quotes)}
    assert found == set(expected)
    if labelled is not None:
        score = evaluate([labelled])
        assert score.false_pos == 0, score.errors
        assert score.true_pos >= 10


def _labelled(part: str):
    from tests.conftest import shared_path

    pages = shared_path("fixtures", "pages")
    return load_labelled(TESTDATA / f"labelled_{part}.jsonl", ROOT, pages)


@pytest.mark.parametrize("part", sorted(FLOORS))
def test_labelled_set_figures(part):
    precision, recall = FLOORS[part]
    texts = _labelled(part)
    assert len(texts) >= 6
    score = evaluate(texts)
    assert score.precision >= precision, (score.to_dict(), score.errors)
    assert score.recall >= recall, (score.to_dict(), score.errors)


def test_speakers_merge_within_a_story():
    from flows.quotes.speakers import ActorEntry, Actors, normalise_speakers

    first = extract_quotes("“We are committed to dialogue,” said US Secretary of State Antony Blinken.")
    second = extract_quotes(
        "“Lines of communication matter,” Blinken told CNN.\n"
        "“We will keep talking,” the secretary of state said.\n"
        "“The proof will be in the results,” said Wang, who met him."
    )
    quotes = [q.to_dict() for q in first + second]
    assert [q["speaker"] for q in quotes] == ["Antony Blinken", "Blinken", "the secretary of state", "Wang"]
    names = normalise_speakers(quotes)
    assert names == {
        "Antony Blinken": "Antony Blinken",
        "Blinken": "Antony Blinken",
        "the secretary of state": "Antony Blinken",
        "Wang": "Wang",
    }
    actors = Actors([ActorEntry(name="Wang Yi", side="china", aliases=["Wang"])])
    assert normalise_speakers(quotes, actors)["Wang"] == "Wang Yi"
