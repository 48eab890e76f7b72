"""Extractive summaries: the source's own sentences, the lede first, headings and crumbs skipped."""

from flows.digest.summary import summarize

ARTICLE = """Taiwan Strait tensions

The State Department approved a $2 billion sale of air-defence systems to Taiwan on Monday, days after \
China staged large-scale military drills around the island. Beijing said the sale violated its \
sovereignty and vowed countermeasures against the US defence firms involved.

Read more:

The package includes radar systems and surface-to-air missiles, according to a notice sent to Congress. \
Taiwan's defence ministry thanked Washington for the sale of the air-defence systems. \
Share this article. Subscribe to our newsletter for more news from Asia every morning and evening."""


def test_picks_the_lede_and_a_related_sentence_in_order():
    out = summarize("US approves $2bn air-defence sale to Taiwan after China drills", ARTICLE)
    assert out.startswith("The State Department approved a $2 billion sale of air-defence systems")
    assert len(out) <= 360
    assert "Read more" not in out and "Taiwan Strait tensions" not in out and "Share this" not in out
    # Every sentence is verbatim from the article.
    flat = " ".join(ARTICLE.split())
    for sentence in out.replace("island. ", "island.\n").split("\n"):
        assert sentence in flat


def test_at_most_two_sentences_and_the_length_limit():
    out = summarize("Taiwan", ARTICLE, max_chars=200)
    assert len(out) <= 200
    assert out.count(". ") <= 1
    long = "word " * 80
    assert summarize("x", f"{long}end.") == ""  # 80 words is not a sentence to quote
    one = summarize("x", "Officials in Beijing and Washington met for four hours on Monday. " + "Then " * 400 + "more.")
    assert one == "Officials in Beijing and Washington met for four hours on Monday."


def test_no_sentence_gives_empty_and_repeats_are_ignored():
    assert summarize("Title", "") == ""
    assert summarize("Title", "Short crumb.\n\nAnother one.") == ""
    boiler = "Sign up for our newsletter to receive the latest news every single day. "
    text = boiler * 3 + "China and the United States agreed to restart talks on climate change in Beijing."
    out = summarize("China and US restart climate talks", text)
    assert out.count("Sign up") <= 1 and "restart talks on climate change" in out
