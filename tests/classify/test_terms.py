"""The explainable core: term matching, vetoes, lists of topics, passages."""

import pytest

from flows.classify import joined_text, load_classifier
from flows.classify.terms import TermIndex, issue_evidence
from flows.classify.text import PhraseMatcher, passages, sentences
from flows.config import load_taxonomy
from tests.conftest import ROOT

ISSUES = ROOT / "config" / "issues.yaml"


@pytest.fixture(scope="module")
def classifier():
    return load_classifier(ISSUES)


def test_longest_phrase_claims_its_span_and_prefix_terms_match_endings():
    m = PhraseMatcher(
        [("China", "c"), ("South China Sea", "scs"), ("tariff*", "t"), ("anti-dumping", "ad"), ("US", "us")]
    )
    found = [
        (x.text, x.payloads)
        for x in m.find("Tariffs rose; the South China Sea and China; antidumping duties; tell us about the US.")
    ]
    assert found == [
        ("Tariffs", ("t",)),
        ("South China Sea", ("scs",)),
        ("China", ("c",)),
        ("antidumping", ("ad",)),
        ("US", ("us",)),
    ]  # lower-case "us" is not the US


def test_negative_phrase_vetoes_only_its_issue():
    tax = load_taxonomy(ISSUES)
    index = TermIndex(tax)
    text = "Sailors relied on the trade winds. Washington raised tariffs and trade barriers."
    sents = sentences("", text)
    ev = issue_evidence(index.scan(text, sents), tax.ids)
    assert [h.sentence.text for h in ev["trade"].hits] == [sents[1].text]


def test_negative_context_vetoes_an_issue_in_its_whole_sentence_only():
    tax = load_taxonomy(ISSUES)
    index = TermIndex(tax)
    text = (
        "A Navy officer was charged with espionage for passing documents to China. "
        "A Chinese warship shadowed a US destroyer in the South China Sea."
    )
    sents = sentences("", text)
    ev = issue_evidence(index.scan(text, sents), tax.ids)
    assert [h.sentence.text for h in ev["military"].hits] == [sents[1].text]
    assert [h.sentence.text for h in ev["cyber"].hits] == [sents[0].text]  # only military is vetoed
    assert "negative_context" in tax.get("military").model_dump()


def test_title_and_lead_count_more_than_the_body():
    tax = load_taxonomy(ISSUES)
    index = TermIndex(tax)
    body = "Officials met. Nothing else happened. The weather was fine. Later there was talk of tariffs."
    late = issue_evidence(index.scan(joined_text("A meeting", body), sentences("A meeting", body)), tax.ids)
    title = "Tariffs on the agenda"
    early = issue_evidence(index.scan(joined_text(title, body), sentences(title, body)), tax.ids)
    assert early["trade"].raw > 2 * late["trade"].raw > 0


def test_passing_mention_in_a_list_does_not_label(classifier):
    text = (
        "Taiwan's president met a delegation of American lawmakers in Taipei on Tuesday, drawing an angry "
        "response from Beijing, which claims the self-governing island as its territory. "
        "The visit came amid tensions over trade, tech and human rights. "
        "China sent warplanes toward Taiwan after the meeting, and its foreign ministry warned Washington "
        "against arms sales to the island and against any contact with Taiwan's government."
    )
    result = classifier.classify("Taiwan's leader welcomes U.S. lawmakers", text)
    assert result.relevant and "taiwan" in result.issue_ids
    assert not {"trade", "technology", "human_rights"} & set(result.issue_ids), result.issue_ids


def test_the_same_topics_discussed_for_real_do_label(classifier):
    text = (
        "Washington raised tariffs on $200 billion of Chinese goods on Friday, and Beijing said it "
        "would retaliate with tariffs on American soybeans, deepening the trade war."
    )
    result = classifier.classify("U.S. raises tariffs on Chinese goods", text)
    assert "trade" in result.issue_ids


TAIWAN_PARAGRAPHS = [
    "Taiwan's president said on Monday that the island would not bow to pressure from Beijing, which "
    "has stepped up military drills around Taiwan and claims the self-governing democracy as its own.",
    "Officials in Taipei said Chinese warplanes crossed the median line of the Taiwan Strait {n} times "
    "this month, and that the island's defense ministry had raised its alert level in response.",
    "Washington approved another arms package for Taiwan, and a delegation of American lawmakers "
    "arrived in Taipei, where they praised the island's democracy and its handling of cross-strait ties.",
    "Analysts in Taipei said voters in Taiwan's coming election were weighing how close the island "
    "should move to the United States, and the opposition Kuomintang called for more talks with Beijing.",
]
TRADE_PARAGRAPH = (
    "In a separate development, Washington raised tariffs on $200 billion of Chinese goods, "
    "and Beijing said it would retaliate with tariffs on American soybeans, deepening the "
    "trade war between the two countries."
)


def long_taiwan_article(words: int = 3000) -> str:
    paragraphs, n = [], 0
    while sum(len(p.split()) for p in paragraphs) < words:
        paragraphs.append(TAIWAN_PARAGRAPHS[n % len(TAIWAN_PARAGRAPHS)].format(n=n + 3))
        n += 1
        if n == 24:
            paragraphs.append(TRADE_PARAGRAPH)
    return "\n\n".join(paragraphs)


def test_long_article_is_classified_by_passage_with_evidence_for_each_issue(classifier):
    title = "Taiwan holds firm as pressure from Beijing grows"
    text = long_taiwan_article()
    assert len(text.split()) >= 3000
    assert len(passages(sentences(title, text))) > 10
    result = classifier.classify(title, text)
    assert {"taiwan", "trade"} <= set(result.issue_ids), result.issue_ids
    full = joined_text(title, text)
    trade = next(i for i in result.issues if i.id == "trade")
    para_start = full.index(TRADE_PARAGRAPH)
    for ev in trade.evidence:
        assert full[ev.start : ev.end] == ev.text
        assert para_start <= ev.start < para_start + len(TRADE_PARAGRAPH)
    taiwan = next(i for i in result.issues if i.id == "taiwan")
    assert all("tariffs" not in ev.text for ev in taiwan.evidence)


def test_passages_keep_paragraphs_whole_and_cover_every_body_sentence():
    text = long_taiwan_article(1200)
    sents = sentences("Title", text)
    groups = passages(sents)
    assert [s for g in groups for s in g] == [s for s in sents if not s.in_title]
    for a, b in zip(groups, groups[1:]):
        assert a[-1].paragraph != b[0].paragraph
    # a lead-sized paragraph is a passage of its own; a one-liner joins the next paragraph
    assert all(len({s.paragraph for s in g}) == 1 for g in groups)
    short = passages(sentences("Title", "BEIJING — Monday.\n\n" + text))
    assert len({s.paragraph for s in short[0]}) == 2 and len(short) == len(groups)


def test_a_negative_phrase_hides_nothing_of_other_issues():
    tax = load_taxonomy(ISSUES)
    index = TermIndex(tax)
    text = "Shares of Taiwan Semiconductor fell as export controls on chips tightened."
    ev = issue_evidence(index.scan(text, sentences("", text)), tax.ids)
    assert ev["taiwan"].raw == 0  # vetoed: the company, not the island
    assert "Semiconductor" in ev["technology"].hits[0].terms


def test_only_the_items_of_an_enumeration_are_passing_mentions():
    """The list rule discounts the cues inside "trade, tech and human rights", not the
    sentence's own subject outside the list."""
    tax = load_taxonomy(ISSUES)
    index = TermIndex(tax)
    text = (
        "The administration plans to realign its relationship with China by putting more emphasis "
        "on climate change, energy and human rights."
    )
    [st] = index.scan(text, sentences("", text))
    assert st.passing("climate") and st.passing("human_rights")
    assert not st.passing("diplomacy")  # "relationship with China" is not a list item
    ev = issue_evidence([st], tax.ids)
    assert ev["diplomacy"].raw > 2 * ev["human_rights"].raw > 0


def test_several_cues_in_one_item_of_a_list_are_still_a_passing_mention():
    """ "Russia's war against Ukraine" is one item of the list with two cues of its issue: still a
    topic named in passing. Cues of one issue in two items of the list are not."""
    tax = load_taxonomy(ISSUES)
    index = TermIndex(tax)
    text = (
        "The two sides remain entrenched in their positions on various issues, including Taiwan, "
        "trade, human rights, and Russia's war against Ukraine."
    )
    [st] = index.scan(text, sentences("", text))
    assert len(st.by_issue["ukraine_russia"]) == 2
    assert st.passing("ukraine_russia") and st.passing("taiwan") and st.passing("trade")
    text = "The talks covered tariffs, a trade deal and human rights."
    [st] = index.scan(text, sentences("", text))
    assert not st.passing("trade") and st.passing("human_rights")


def test_a_roundup_headline_lists_topics_in_passing():
    from flows.classify.terms import roundup_span

    title = "Coronavirus, Trade Feud, Climate Change: Your Friday Briefing"
    start, end = roundup_span(title)
    assert title[start:end] == "Coronavirus, Trade Feud, Climate Change"
    assert roundup_span("Trump's Remarks on Police, Biden, Coronavirus and China")
    # An appositive or a plain headline is not a list of topics.
    assert roundup_span("Michael Flynn, a Top Adviser, Ties China and Iran to Militants") is None
    assert roundup_span("China Slaps Tariffs on Soybeans and Pork") is None
    tax = load_taxonomy(ISSUES)
    index = TermIndex(tax)
    body = "Here is what you need to know today."
    ev = issue_evidence(index.scan(joined_text(title, body), sentences(title, body)), tax.ids)
    assert ev["climate"].listy_only and ev["climate"].title_raw == 0
    real = "China and U.S. Agree to Cut Emissions"
    ev_real = issue_evidence(index.scan(joined_text(real, body), sentences(real, body)), tax.ids)
    assert ev_real["climate"].title_raw > 0 and ev_real["climate"].raw > 2 * ev["climate"].raw


def chip_curbs_article(last_paragraph: str) -> str:
    """A piece on US–China chip curbs, five passages (each paragraph of six sentences, ~78 words,
    is one), of which only the last is varied."""
    filler = " ".join(["Chinese and American negotiators met again to go over the new licence rules."] * 6)
    lead = " ".join(["The White House and Beijing traded warnings over export controls on advanced chips."] * 6)
    return "\n\n".join([lead, filler, filler, filler, last_paragraph])


def test_later_passages_carry_issues_only_where_they_are_about_the_two(classifier):
    """A long article's later passage counts for an issue only when, read with the title as a news
    lead, it is relevant itself: Washington's tariffs on Europe, in a piece on chip curbs, are not a
    US–China trade matter; the same paragraph naming China is."""
    europe = (
        "Separately, Washington imposed tariffs of 25 percent on steel and aluminum imports from "
        "European allies, and the trade talks with Brussels collapsed."
    )
    china = europe.replace("European allies", "China").replace("Brussels", "Beijing")
    labels = {}
    for name, paragraph in (("europe", europe), ("china", china)):
        text = chip_curbs_article(paragraph)
        assert len(classifier.views("Chip curbs tighten", text)) >= 4
        labels[name] = classifier.classify("Chip curbs tighten", text).issue_ids
    assert "technology" in labels["europe"] and "technology" in labels["china"], labels
    assert "trade" not in labels["europe"] and "trade" in labels["china"], labels


def test_a_long_comma_separated_run_is_scanned_in_linear_time(classifier):
    """Untrusted text: a thousand-item list naming several issues must not make the list rule
    quadratic (it took seconds before the enumeration pattern was bounded)."""
    text = ", ".join(["tariffs on chips", "Taiwan arms", "human rights", "climate talks"] * 250) + "."
    full = joined_text("China and the U.S.", text)
    evidence = issue_evidence(
        classifier.terms.scan(full, sentences("China and the U.S.", text)), classifier.taxonomy.ids
    )
    assert all(evidence[i].raw > 0 for i in ("trade", "taiwan", "human_rights", "climate"))
    result = classifier.classify("China and the U.S.", text)
    assert result.relevant and all(full[e.start : e.end] == e.text for lab in result.issues for e in lab.evidence)
