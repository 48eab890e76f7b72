"""Passages an article repeats, verbatim or reworded, are shown once."""

from __future__ import annotations

from pathlib import Path

from flows.sources.seeds import read_seed
from flows.text.clean import split_paragraphs
from flows.text.repeats import drop_repeated_passages, split_sentences

SEEDS = Path(__file__).resolve().parent.parent.parent / "seeds"


def seed_paragraphs(prefix: str) -> list[str]:
    path = next(SEEDS.glob(f"{prefix}_*.txt"))
    return read_seed(path).text.split("\n\n")


def test_seed_001_loses_the_paragraphs_that_reword_its_opening():
    kept = seed_paragraphs("001")
    text = "\n\n".join(kept)
    # The originals stay …
    assert "China refused to resume military-to-military communication channels" in text
    assert "both countries agreed to continue diplomatic engagements with more visits" in text
    # … their rewordings further down are gone.
    assert "it is worth noting that China’s refusal to resume" not in text
    assert "the meeting resulted in an agreement to continue diplomatic engagements" not in text
    assert "both sides expressed a commitment to working towards stabilizing their rivalry" not in text


def test_other_seeds_keep_every_paragraph():
    for prefix in ("000", "002", "003", "004"):
        path = next(SEEDS.glob(f"{prefix}_*.txt"))
        paragraphs = [p for p in split_paragraphs(path.read_text(encoding="utf-8"))]
        kept = seed_paragraphs(prefix)
        # Cleaning may drop junk lines, but no paragraph of real content is lost as a "repeat".
        assert len(drop_repeated_passages(kept)) == len(kept)
        assert len(kept) >= len(paragraphs) - 4


def test_a_pasted_paragraph_is_dropped_and_new_facts_are_kept():
    first = (
        "The Commerce Department added 36 Chinese companies to its export blacklist on Monday, "
        "citing their work on advanced chips for the military."
    )
    new_facts = (
        "The Commerce Department said on Tuesday that Yangtze Memory Technologies and a "
        "Hefei supplier would need licenses for every American tool they buy."
    )
    paragraphs = [first, new_facts, first]
    assert drop_repeated_passages(paragraphs) == [first, new_facts]


def test_a_reworded_restatement_is_dropped():
    original = (
        "China and the United States agreed on Monday to resume talks between their militaries, "
        "which Beijing suspended after the speaker of the House visited Taiwan last year. "
        "Officials said the first meeting would take place in Washington next month."
    )
    reworded = (
        "Meanwhile, China and the United States agreed to resume military talks, which Beijing "
        "had suspended after last year's visit to Taiwan by the House speaker. The first "
        "meeting will take place in Washington next month, officials said."
    )
    assert drop_repeated_passages([original, reworded]) == [original]


def test_sentences_split_at_ends_not_at_abbreviations():
    assert split_sentences("The U.S. said it would act. “We will,” he said. Mr. Blinken left.") == [
        "The U.S. said it would act.",
        "“We will,” he said.",
        "Mr. Blinken left.",
    ]
