"""The issue classifier: relevance to US–China relations first, then the issues an item is about.

`load_classifier(issues_file)` builds a `Classifier` from the taxonomy in `config/issues.yaml`;
`classifier.classify(title, text)` returns a `Classification` with scores in [0, 1] and, for
every label, the sentences and terms that decided it (offsets into `joined_text(title, text)`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flows.classify.terms import IssueEvidence, squash, term_evidence
from flows.classify.text import Sentence, joined_text, sentences, term_pattern
from flows.config import Taxonomy, load_taxonomy
from flows.models import Classification, Evidence, IssueLabel

__all__ = ["Classifier", "load_classifier", "joined_text"]

ISSUE_SCALE = 3.0        # evidence sum at which an issue's score reaches 0.5
RELEVANCE_SCALE = 1.0
MAX_EVIDENCE = 3


class Classifier:
    """Term evidence with context, scored per issue against the thresholds in the taxonomy."""

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        digest = hashlib.sha256(taxonomy.model_dump_json().encode()).hexdigest()[:12]
        self.version = f"terms-{digest}"
        rel = taxonomy.relevance
        self._us = [term_pattern(t) for t in rel.us_terms]
        self._cn = [term_pattern(t) for t in rel.china_terms]
        self._stakes = [term_pattern(t) for t in rel.shared_stakes]

    def relevance(self, sents: list[Sentence]) -> tuple[float, list[Evidence]]:
        """Does the text bear on US–China relations? Both sides named, or a shared stake with one."""
        us = cn = stakes = 0.0
        evidence: list[Evidence] = []
        for s in sents:
            boost = 2.0 if s.in_title else 1.0
            found = {
                "us": [m.group() for p in self._us for m in p.finditer(s.text)],
                "cn": [m.group() for p in self._cn for m in p.finditer(s.text)],
                "stake": [m.group() for p in self._stakes for m in p.finditer(s.text)],
            }
            us += boost * len(found["us"])
            cn += boost * len(found["cn"])
            stakes += boost * len(found["stake"])
            if (found["us"] and (found["cn"] or found["stake"])) or (found["cn"] and found["stake"]):
                evidence.append(Evidence(s.text, s.start, s.end,
                                         sorted(set(found["us"] + found["cn"] + found["stake"]))))
        if us and cn:
            raw = min(us, cn) + 0.5 * stakes
        elif stakes and (us or cn):
            raw = 0.5 * (us + cn) + 0.5 * stakes
        else:
            raw = 0.15 * (us + cn + stakes)
        return squash(raw, RELEVANCE_SCALE), evidence[:MAX_EVIDENCE]

    def _label(self, ev: IssueEvidence) -> IssueLabel:
        hits = sorted(ev.hits, key=lambda h: -h.weight)[:MAX_EVIDENCE]
        return IssueLabel(
            id=ev.issue_id,
            score=squash(ev.raw, ISSUE_SCALE),
            evidence=[Evidence(h.sentence.text, h.sentence.start, h.sentence.end,
                               sorted(set(h.terms)), h.weight) for h in hits],
        )

    def classify(self, title: str, text: str) -> Classification:
        sents = sentences(title, text)
        relevance, rel_evidence = self.relevance(sents)
        relevant = relevance >= self.taxonomy.relevance.threshold
        labels: list[IssueLabel] = []
        if relevant:
            for issue_id, ev in term_evidence(self.taxonomy, sents).items():
                label = self._label(ev)
                if label.score >= self.taxonomy.get(issue_id).threshold:
                    labels.append(label)
            labels.sort(key=lambda lab: -lab.score)
        return Classification(relevant=relevant, relevance=relevance, issues=labels,
                              relevance_evidence=rel_evidence)


def load_classifier(issues_file: str | Path) -> Classifier:
    return Classifier(load_taxonomy(issues_file))
