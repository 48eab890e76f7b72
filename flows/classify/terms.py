"""Term evidence with context: the explainable core of the classifier.

For each issue, every taxonomy term found in a sentence contributes its weight, scaled by where it
stands (title and lead count more) and damped when the same term repeats. A sentence that only
lists topics in passing ("tensions over trade, tech and human rights") contributes little: a term
in a list of three or more issues is discounted. Negative phrases veto a term's sense where they
overlap it ("trade winds", "political climate").
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from flows.classify.text import Sentence, term_pattern
from flows.config import Issue, Taxonomy

TITLE_BOOST = 2.0
LEAD_BOOST = 1.5          # first two body sentences
LIST_DISCOUNT = 0.35      # a term in a sentence naming ≥3 issues in a list
REPEAT_DAMPING = 0.5      # each further match of the same term counts half as much as the one before

_LIST_SHAPE = re.compile(r",[^,]+,|,\s*(?:and|or)\s", re.I)


@dataclass
class SentenceHit:
    sentence: Sentence
    terms: list[str]
    weight: float


@dataclass
class IssueEvidence:
    issue_id: str
    raw: float = 0.0
    hits: list[SentenceHit] = field(default_factory=list)
    distinct_terms: set[str] = field(default_factory=set)


def _vetoed(sentence: Sentence, start: int, end: int, negatives: list[re.Pattern]) -> bool:
    for pattern in negatives:
        for m in pattern.finditer(sentence.text):
            if m.start() < end and start < m.end():
                return True
    return False


def find_terms(issue: Issue, sentence: Sentence) -> list[tuple[str, float, int, int]]:
    """(term, weight, start, end) of each non-vetoed match in a sentence (offsets into the sentence)."""
    negatives = [term_pattern(n) for n in issue.negative]
    found: list[tuple[str, float, int, int]] = []
    taken: list[tuple[int, int]] = []
    # Longer terms first, so "South China Sea" claims its span before "China".
    for term in sorted(issue.terms, key=lambda t: -len(t.term)):
        for m in term_pattern(term.term).finditer(sentence.text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            if _vetoed(sentence, m.start(), m.end(), negatives):
                continue
            taken.append((m.start(), m.end()))
            found.append((m.group(), term.weight, m.start(), m.end()))
    return found


def term_evidence(taxonomy: Taxonomy, sents: list[Sentence]) -> dict[str, IssueEvidence]:
    """Raw evidence per issue over a text's sentences."""
    per_sentence: list[dict[str, list[tuple[str, float, int, int]]]] = []
    for sentence in sents:
        per_sentence.append({i.id: hits for i in taxonomy.issues if (hits := find_terms(i, sentence))})

    evidence = {i.id: IssueEvidence(i.id) for i in taxonomy.issues}
    seen_counts: dict[tuple[str, str], int] = defaultdict(int)
    body_index = 0
    for sentence, matches in zip(sents, per_sentence):
        if sentence.in_title:
            position = TITLE_BOOST
        else:
            position = LEAD_BOOST if body_index < 2 else 1.0
            body_index += 1
        listy = len(matches) >= 3 and bool(_LIST_SHAPE.search(sentence.text))
        for issue_id, hits in matches.items():
            weight = 0.0
            terms = []
            for term, w, _s, _e in hits:
                key = (issue_id, term.lower())
                w_eff = w * (REPEAT_DAMPING ** seen_counts[key])
                seen_counts[key] += 1
                weight += w_eff
                terms.append(term)
            # A list sentence counts a little, unless the issue has several cues in it.
            if listy and len(hits) == 1:
                weight *= LIST_DISCOUNT
            weight *= position
            ev = evidence[issue_id]
            ev.raw += weight
            ev.distinct_terms.update(t.lower() for t in terms)
            ev.hits.append(SentenceHit(sentence, terms, weight))
    return evidence


def squash(raw: float, scale: float) -> float:
    """Map a non-negative evidence sum to [0, 1): half-way at `scale`."""
    return 1.0 - math.exp(-math.log(2) * raw / scale) if raw > 0 else 0.0
