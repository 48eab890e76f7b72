from pathlib import Path

import pytest

from flows.sources.seeds import SeedError, read_seed, read_seeds
from flows.text.clean import clean_text, is_junk, title_and_body
from tests.conftest import ROOT

SEEDS = ROOT / "seeds"


def seed(prefix: str):
    return read_seed(next(SEEDS.glob(f"{prefix}_*.txt")))


def test_five_seeds_read_with_titles():
    articles, errors = read_seeds(SEEDS)
    assert errors == []
    assert [a.url[:3] for a in articles] == ["000", "001", "002", "003", "004"]
    assert seed("000").title == "Rekindling Dialogue: Between China and the US"
    assert seed("003").title == "Why the U.S. and China can’t afford to walk away from each other"
    # Seeds without a title line get one from their first sentence, cut at a clause boundary.
    assert seed("004").title == "China and the United States have returned to the negotiating table"
    assert seed("001").title.startswith("China and the United States have agreed")
    assert len(seed("002").title.split()) <= 16


def test_junk_is_removed_from_seed_003():
    text = seed("003").text
    for junk in ("_converted", "adinserter", "Telegram", "Subscribe", "[", "Get the latest"):
        assert junk not in text
    assert text.startswith("U.S.-China Relations Show Signs of Renewal")
    assert text.endswith("strong enough to keep the conversation going.")


def test_credits_fragments_and_repeats_removed_from_seed_001():
    text = seed("001").text
    assert "Reporting by" not in text and "Editing by" not in text
    assert "strategic rivalry theory" not in text
    assert "\nP, noting" not in text and not any(p.startswith("P,") for p in text.split("\n\n"))
    # The paraphrased restatements are dropped; each point is told once.
    assert text.count("citing U.S. sanctions as the obstacle") == 1
    assert text.count("Commerce Secretary Gina Raimondo") == 1
    assert "strategic ambiguity" in text  # real content survives


def test_clean_seeds_keep_their_content():
    for prefix, words in (("000", 400), ("002", 1100), ("004", 500)):
        assert len(seed(prefix).text.split()) > words * 0.8


@pytest.mark.parametrize(
    "line",
    [
        "1e887e846334d35d525381181d6f43670646ffb1_converted",
        '[adinserter block="8"]',
        "Get the latest and greatest stories delivered straight to your phone. Subscribe to our Telegram channel today!",
        "Reporting by Humeyra Pamuk in Beijing; Editing by Simon Cameron-Moore",
        "By Jane Doe and John Smith",
        "IMG_20230601.jpg",
        "strategic rivalry theory",
    ],
)
def test_junk_lines(line: str):
    assert is_junk(line)


@pytest.mark.parametrize(
    "line",
    [
        "Meeting halfway",
        "The stakes for such meetings are high.",
        "By the end of the week, the talks had stalled.",
    ],
)
def test_real_lines_are_not_junk(line: str):
    assert not is_junk(line)


def test_verbatim_repeat_dropped_and_control_chars_removed():
    text = (
        "Title here\n\nA first paragraph about tariffs on steel imports from China today.\x00\n\n"
        "A second one.\n\nA first paragraph about tariffs on steel imports from China today."
    )
    title, body = title_and_body(text)
    assert title == "Title here"
    assert body == ["A first paragraph about tariffs on steel imports from China today.", "A second one."]
    assert "\x00" not in clean_text(text)


def test_markdown_and_html_seeds(tmp_path: Path):
    (tmp_path / "a.md").write_text(
        "# Taiwan arms sale approved\n\nThe **State Department** approved a "
        "[sale](http://x.org) of arms to Taiwan, angering Beijing.\n\n![img](x.png)\n"
    )
    (tmp_path / "b.html").write_text(
        "<html><head><title>Chip curbs widen</title><script>alert(1)</script></head><body>"
        "<article><h1>Chip curbs widen</h1><p>Washington widened curbs on exports of advanced "
        "semiconductors to China on Tuesday, officials said, in a move that Beijing condemned.</p>"
        "<p>The rules add dozens of Chinese companies to the entity list and restrict chipmaking tools.</p>"
        "</article></body></html>"
    )
    (tmp_path / "c.txt").write_bytes("Zölle\n\nDie USA erhöhen Zölle auf Waren aus China.".encode("latin-1"))
    (tmp_path / "empty.txt").write_text("\n\n")
    articles, errors = read_seeds(tmp_path)
    by_name = {a.url: a for a in articles}
    assert by_name["a.md"].title == "Taiwan arms sale approved"
    assert "State Department approved a sale of arms" in by_name["a.md"].text
    assert "**" not in by_name["a.md"].text and "x.png" not in by_name["a.md"].text
    assert by_name["b.html"].title == "Chip curbs widen"
    assert "entity list" in by_name["b.html"].text and "alert" not in by_name["b.html"].text
    assert "erhöhen" in by_name["c.txt"].text
    assert errors == ["empty.txt: no article text found"]
    with pytest.raises(SeedError):
        read_seed(tmp_path / "missing.txt")
