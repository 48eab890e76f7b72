"""Term evidence with context: the explainable core of the classifier.

For each issue, every taxonomy term found in a sentence contributes its weight, scaled by where it
stands (title and lead count more) and damped when the same term repeats. A sentence that only
lists topics in passing ("tensions over trade, tech and human rights") contributes little: a term
in a list naming three or more issues is discounted. Negative phrases veto an issue's term where
they cover it ("trade winds", "political climate"), and a negative-context phrase vetoes an
issue's terms in its whole sentence (a Navy officer in a sentence about spying is cyber's actor,
not a military matter); within an issue the longest phrase at a position wins, so "hack*" and
"hacker*" on one word count once.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass, field

from flows.classify.text import PhraseMatcher, Sentence
from flows.config import Taxonomy

TITLE_BOOST = 2.0
LEAD_BOOST = 1.5  # first two body sentences
LIST_DISCOUNT = 0.35  # a lone cue in a sentence listing ≥3 issues
REPEAT_DAMPING = 0.5  # each further match of the same term counts half as much as the one before
LEAD_SENTENCES = 2
ROUNDUP_PART_WORDS = 4  # the inner items of a headline's list of topics are short names

# An enumeration: short items separated by commas, the last joined by "and"/"or"
# ("tensions over trade, tech and human rights").
_ITEM = r"[\w’'.-]+(?:\s+[\w’'.-]+){0,3}"
# (at most ten items: bounded, so a long comma-separated run in untrusted text stays linear)
_ENUMERATION = re.compile(rf"{_ITEM}(?:\s*,\s*{_ITEM}){{0,8}}\s*,?\s+(?:and|or)\s+{_ITEM}", re.I)
_ITEM_SEPARATOR = re.compile(r"\s*,\s*(?:(?:and|or)\s+)?|\s+(?:and|or)\s+", re.I)


@dataclass(frozen=True)
class TermHit:
    term: str  # as written in the text
    weight: float  # the taxonomy weight
    start: int  # offsets into the joined text
    end: int


@dataclass
class SentenceTerms:
    """The issue terms found in one sentence, and whether it only lists topics."""

    sentence: Sentence
    position: float  # title / lead / body weight
    by_issue: dict[str, list[TermHit]]
    lists: list[tuple[int, int]]  # the items of enumerations, if it names ≥3 issues (offsets)
    roundup: tuple[int, int] | None = None  # a headline's list of topics (offsets), if it is one

    def passing(self, issue_id: str) -> bool:
        """Whether this sentence only mentions the issue in passing: its cues all lie in one item
        of an enumeration of issues ("tensions over trade, tech and human rights", "Taiwan,
        trade and Russia's war against Ukraine"; cues outside the list, or in two of its items,
        still count), or its cues are items of a roundup headline's list of topics."""
        hits = self.by_issue.get(issue_id, [])
        if not hits:
            return False
        if self.roundup and all(self.roundup[0] <= h.start < self.roundup[1] for h in hits):
            return True
        return any(all(a <= h.start < b for h in hits) for a, b in self.lists)


@dataclass
class SentenceHit:
    sentence: Sentence
    terms: list[str]
    weight: float


@dataclass
class IssueEvidence:
    issue_id: str
    raw: float = 0.0
    title_raw: float = 0.0
    listy_only: bool = True  # every contributing sentence was a list of topics
    hits: list[SentenceHit] = field(default_factory=list)

    @property
    def distinct_terms(self) -> set[str]:
        return {t.lower() for h in self.hits for t in h.terms}


class TermIndex:
    """All issue terms and negative phrases of a taxonomy, matched in one pass over a text."""

    def __init__(self, taxonomy: Taxonomy):
        entries: list[tuple[str, object]] = []
        for issue in taxonomy.issues:
            entries += [(t.term, ("+", issue.id, t.weight)) for t in issue.terms]
            entries += [(n, ("-", issue.id, 0.0)) for n in issue.negative]
            entries += [(n, ("~", issue.id, 0.0)) for n in issue.negative_context]
        self._matcher = PhraseMatcher(entries)
        self.issue_ids = taxonomy.ids

    def scan(self, full_text: str, sents: list[Sentence]) -> list[SentenceTerms]:
        """Per sentence, the non-vetoed issue terms in it, with the sentence's position weight."""
        starts = [s.start for s in sents]
        per_sentence: list[dict[str, list[TermHit]]] = [defaultdict(list) for _ in sents]
        # Per issue, leftmost-longest among its own terms and negative phrases: a negative phrase
        # vetoes the issue's terms it covers, and hides nothing of the other issues.
        by_issue: dict[str, list[tuple[int, int, str, float]]] = defaultdict(list)
        vetoed: set[tuple[int, str]] = set()  # (sentence, issue) with a negative-context phrase
        for start, end, (kind, issue, weight) in self._matcher.candidates(full_text):
            if kind == "~":
                vetoed.add((bisect.bisect_right(starts, start) - 1, issue))
                continue
            # sorted: leftmost, then longest, then a veto before a term, then the heaviest term
            by_issue[issue].append((start, -end, kind != "-", -weight))
        for issue, found in by_issue.items():
            found.sort()
            covered = -1
            last_start = -1
            for start, neg_end, positive, neg_weight in found:
                if start < covered or start == last_start:
                    continue  # inside a longer match, or a shorter term at the same place
                last_start, covered = start, -neg_end
                if not positive:
                    continue
                i = bisect.bisect_right(starts, start) - 1
                if i >= 0 and (i, issue) not in vetoed:
                    per_sentence[i][issue].append(TermHit(full_text[start:-neg_end], -neg_weight, start, -neg_end))
        out: list[SentenceTerms] = []
        body_index = 0
        for sentence, by_issue in zip(sents, per_sentence):
            if sentence.in_title:
                position = TITLE_BOOST
            else:
                position = LEAD_BOOST if body_index < LEAD_SENTENCES else 1.0
                body_index += 1
            lists = []
            if len(by_issue) >= 3:
                lists = [
                    (sentence.start + a, sentence.start + b)
                    for m in _ENUMERATION.finditer(sentence.text)
                    for a, b in _items(m)
                ]
            roundup = roundup_span(sentence.text) if sentence.in_title else None
            if roundup:
                roundup = (sentence.start + roundup[0], sentence.start + roundup[1])
            out.append(SentenceTerms(sentence, position, dict(by_issue), lists, roundup))
        return out


def _items(enumeration: re.Match) -> list[tuple[int, int]]:
    """The (start, end) of each item of an enumeration match, in its string's offsets."""
    spans, start = [], enumeration.start()
    for sep in _ITEM_SEPARATOR.finditer(enumeration.group()):
        spans.append((start, enumeration.start() + sep.start()))
        start = enumeration.start() + sep.end()
    spans.append((start, enumeration.end()))
    return [(a, b) for a, b in spans if b > a]


def roundup_span(title: str) -> tuple[int, int] | None:
    """Where a headline lists topics ("Coronavirus, Trade Feud, Climate Change: Your Friday
    Briefing"; "Falsehoods on Police Shootings, Biden, Coronavirus and China"), the offsets of
    the list, else None. A cue that is one item of such a list is a passing mention (the
    taxonomy's rule), however prominent a headline is.

    Shape: three or more comma-separated parts before a colon (or, without a colon, ending in
    "X and Y"), the inner parts short capitalised names ("Biden", "U.S.-China Feud") rather than
    an appositive clause ("Flynn, a Top Adviser, Says ...").
    """
    colon = title.find(":")
    head = title[:colon] if colon >= 0 else title
    parts = head.split(",")
    if len(parts) < 3 or (colon < 0 and " and " not in parts[-1]):
        return None
    for part in parts[1:-1]:
        words = part.split()
        if not 1 <= len(words) <= ROUNDUP_PART_WORDS or not all(
            w[0].isupper() or w[0].isdigit() or w[0] in "‘'\"“" for w in words
        ):
            return None
    start = 0 if colon >= 0 else len(parts[0]) + 1
    return start, len(head)


def issue_evidence(scanned: list[SentenceTerms], issue_ids: list[str]) -> dict[str, IssueEvidence]:
    """Evidence per issue over some sentences (a passage with its title, or a whole text)."""
    evidence = {i: IssueEvidence(i) for i in issue_ids}
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for st in scanned:
        for issue_id, hits in st.by_issue.items():
            ev = evidence.get(issue_id)
            if ev is None:
                continue
            weight = 0.0
            for hit in hits:
                key = (issue_id, hit.term.lower())
                weight += hit.weight * (REPEAT_DAMPING ** seen[key])
                seen[key] += 1
            # A list sentence counts a little, unless the issue has several cues in it.
            listed = st.passing(issue_id)
            if listed:
                weight *= LIST_DISCOUNT
            else:
                ev.listy_only = False
            weight *= st.position
            ev.raw += weight
            if st.sentence.in_title and not listed:
                ev.title_raw += weight
            ev.hits.append(SentenceHit(st.sentence, [h.term for h in hits], weight))
    return evidence
