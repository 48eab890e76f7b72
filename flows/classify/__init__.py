"""The issue classifier: relevance to US–China relations first, then the issues an item is about.

`load_classifier(issues_file)` builds a `Classifier` from the taxonomy in `config/issues.yaml` and
the trained model shipped in `flows/classify/model/` (or another folder written by
`uschina-digest train`); `classifier.classify(title, text)` returns a `Classification` with
calibrated scores in [0, 1] and, for every label, the sentences and terms that decided it
(offsets into `joined_text(title, text)`).

How a label is decided (see the README, "How items are classified"):
1. Term evidence with context (`terms.py`): taxonomy terms, weighted by position, damped on
   repeats, discounted in lists of topics, vetoed by negative phrases.
2. A linear TF-IDF model (`model.py`) trained on weak labels from an unlabelled corpus, labelled
   examples and analysts' corrections, which knows the words around the terms; its relevance
   column also reads the item's WordLlama sentence embedding (`embedding.py`). An embedding head,
   fitted on labelled items and corrections only, reads the title's and each passage's embedding.
3. A small logistic stacker turns both into one probability per issue; a long article is scored
   passage by passage and each issue keeps its best passage (and that passage's evidence).
4. The item is relevant when its relevance probability reaches `relevance.threshold`; an issue is
   labelled when its probability reaches the issue's `threshold` in the taxonomy.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flows.classify.features import (
    DEFAULT_ISSUE_STACKER,
    DEFAULT_RELEVANCE_STACKER,
    ISSUE_FEATURES,
    RELEVANCE_FEATURES,
    issue_features,
    relevance_features,
    relevance_prob,
)
from flows.classify.model import RELEVANT, LinearModel, ModelError, Stacker, load_model
from flows.classify.terms import IssueEvidence, SentenceTerms, TermIndex, issue_evidence
from flows.classify.text import PhraseMatcher, Sentence, joined_text, passages, sentences
from flows.config import Taxonomy, load_taxonomy
from flows.models import Classification, Evidence, IssueLabel

__all__ = ["Classifier", "load_classifier", "joined_text", "PACKAGED_MODEL", "ModelError"]

PACKAGED_MODEL = Path(__file__).resolve().parent / "model"
MAX_EVIDENCE = 3
PASSAGE_FLOOR = 0.25      # a passage below this adds nothing to an issue's other passages
TITLE_WEIGHT = 2.0


class Classifier:
    """Term evidence with context plus a learned text model, stacked into calibrated scores."""

    def __init__(self, taxonomy: Taxonomy, model: LinearModel | None = None,
                 issue_stacker: Stacker | None = None, relevance_stacker: Stacker | None = None,
                 passage_stacker: Stacker | None = None):
        self.taxonomy = taxonomy
        self.model = model
        self.issue_stacker = issue_stacker or DEFAULT_ISSUE_STACKER
        self.passage_stacker = passage_stacker or self.issue_stacker
        self.relevance_stacker = relevance_stacker or DEFAULT_RELEVANCE_STACKER
        self.terms = TermIndex(taxonomy)
        self._both_sides = [issue.id for issue in taxonomy.issues if issue.both_sides]
        rel = taxonomy.relevance
        self._sides = PhraseMatcher([(t, "us") for t in rel.us_terms] + [(t, "china") for t in rel.china_terms]
                                    + [(t, "stake") for t in rel.shared_stakes])
        self._model_index = {i: model.label_index(i) for i in [RELEVANT, *taxonomy.ids]} if model else {}
        h = hashlib.sha256(taxonomy.model_dump_json().encode())
        h.update(str(model.meta.get("trained_at", "")).encode() if model else b"terms-only")
        h.update(repr((self.issue_stacker, self.relevance_stacker, self.passage_stacker)).encode())
        self.version = f"{'hybrid' if model else 'terms'}-{h.hexdigest()[:12]}"

    # ------------------------------------------------------------------ parts

    def _model_logits(self, text: str):
        return self.model.logits(text) if self.model is not None else None

    def _span_logits(self, ids, full: str, spans: list[tuple[int, int]]):
        """Model logits of some spans of the text, from its one tokenisation when there is one."""
        if self.model is None:
            return None
        if ids is None:
            return self.model.logits("\n\n".join(full[a:b] for a, b in spans))
        return self.model.span_logits(ids, spans)

    def _logit(self, logits, label: str) -> float | None:
        k = self._model_index.get(label)
        return None if logits is None or k is None else float(logits[k])

    def _model_view(self, issue_id: str, passage_logits, group: list[Sentence], scanned: list[SentenceTerms],
                    cache: dict[int, object], ids, full: str) -> float | None:
        """The text model's logit for an issue in a passage: the passage read as a whole, or the
        sentence with this issue's terms it rates highest, whichever is higher (a lone strong
        sentence in a long passage is not drowned by the words around it)."""
        best = self._logit(passage_logits, issue_id)
        if best is None:
            return None
        for s in group:
            st = scanned[s.index]
            hits = st.by_issue.get(issue_id)
            if hits and not st.passing(issue_id):              # a passing mention is not a view
                if s.index not in cache:
                    cache[s.index] = self._span_logits(ids, full, [(s.start, s.end)])
                best = max(best, self._logit(cache[s.index], issue_id))
        return best

    def _head_views(self, title: str, full: str,
                    groups: dict[int, list[Sentence]]) -> dict[int, dict[str, float]]:
        """The embedding head's logits for the passages read (by index): the lead (0) with the
        item's title (as the head was trained: title and lead of labelled items), later passages
        on their own."""
        model = self.model
        if model is None or model.head_coef is None:
            return {n: {} for n in groups}
        vectors = model.embedder.embed_many([title.strip()] + [full[g[0].start:g[-1].end] if g else ""
                                                               for g in groups.values()])
        no_title = np.zeros_like(vectors[0])
        return {n: model.head_logits(vectors[0] if n == 0 else no_title, vector)
                for n, vector in zip(groups, vectors[1:])}

    def relevance_sides(self, full: str, sents: list[Sentence],
                        groups: list[list[Sentence]]) -> tuple[dict[str, float], list[bool], list[Evidence]]:
        """Weighted counts of US, China and shared-stake cues; for each passage, whether it (with
        the title) pairs the two sides: it names the US and China, or a shared stake (Taiwan, the
        South China Sea, North Korea …: the taxonomy's places where both are stakeholders, so a
        stake alone stands for both; an interview with Taiwan's president or a Q&A on rivalries
        in the South China Sea is about the two); and the sentences naming two sides.

        Relevance reads the share of passages that pair the sides. Per passage, because a long
        article that names Washington in one paragraph and Beijing in another (a South Korean
        solar plan citing a US programme and a Chinese tariff) need not be about the two
        countries' dealings at all; a share, because one list of countries in a 700-word piece on
        tariffs for Europe does not make it one. A news lead is one passage (share 0 or 1), and a
        title naming both sides pairs them in every passage."""
        counts = {"us": 0.0, "china": 0.0, "stake": 0.0}
        per_sentence: dict[int, dict[str, list[str]]] = {}
        starts = [s.start for s in sents]
        for m in self._sides.find(full):
            i = bisect.bisect_right(starts, m.start) - 1
            if i < 0:
                continue
            weight = TITLE_WEIGHT if sents[i].in_title else 1.0
            for side in set(m.payloads):
                counts[side] += weight
                per_sentence.setdefault(i, {}).setdefault(side, []).append(m.text)
        evidence = []
        for i, found in sorted(per_sentence.items()):
            if len(found) >= 2:
                s = sents[i]
                evidence.append(Evidence(s.text, s.start, s.end, sorted({t for v in found.values() for t in v})))
        title_sides = {side for s in sents if s.in_title for side in per_sentence.get(s.index, {})}
        paired = []
        for group in groups:
            sides = title_sides.union(*(per_sentence.get(s.index, {}).keys() for s in group))
            paired.append({"us", "china"} <= sides or "stake" in sides)
        return counts, paired, evidence[:MAX_EVIDENCE]

    def _evidence(self, ev: IssueEvidence, issue_id: str, group: list[Sentence]) -> list[Evidence]:
        if ev.hits:
            hits = sorted(ev.hits, key=lambda h: -h.weight)[:MAX_EVIDENCE]
            return [Evidence(h.sentence.text, h.sentence.start, h.sentence.end, sorted(set(h.terms)), h.weight)
                    for h in hits]
        # Decided by the learned model alone: show the sentence it found most telling.
        best: tuple[float, Sentence] | None = None
        for s in group:
            logit = self._logit(self._model_logits(s.text), issue_id)
            if logit is not None and (best is None or logit > best[0]):
                best = (logit, s)
        if best is None:
            return []
        s = best[1]
        return [Evidence(s.text, s.start, s.end, self.model.top_features(s.text, issue_id), 0.0)]

    # ------------------------------------------------------------------ classify

    def score(self, title: str, text: str) -> "Scores":
        """Every probability the classifier computes, before thresholds (training uses this too)."""
        full = joined_text(title, text)
        sents = sentences(title, text)
        scanned = self.terms.scan(full, sents)
        title_part = [st for st in scanned if st.sentence.in_title]
        groups = passages(sents) or [[]]
        title_end = len(title.strip())
        ids = self.model.token_ids(full, title_end) if self.model is not None else None
        full_logits = self._span_logits(ids, full, [(0, len(full))])
        counts, paired, rel_evidence = self.relevance_sides(full, sents, groups)
        # The lead is always read; a later passage that does not pair the two sides (see
        # relevance_sides) is not about their dealings, so it carries no issue.
        read = {n: group for n, group in enumerate(groups) if n == 0 or paired[n]}
        heads = self._head_views(title, full, read)

        best: dict[str, tuple[float, IssueEvidence, list[Sentence]]] = {}
        issue_rows: dict[str, list[float]] = {}
        others: dict[str, float] = {}          # 1 - P(no other passage carries the issue)
        sentence_logits: dict[int, object] = {}
        title_text = full[: title_part[-1].sentence.end] if title_part else ""
        for n, group in read.items():
            # The head of an article is read like a news lead, with its title; the rest passage
            # by passage, each on its own and with a stacker fitted to body text.
            lead = n == 0
            part: list[SentenceTerms] = (title_part if lead else []) + [scanned[s.index] for s in group]
            stacker = self.issue_stacker if lead else self.passage_stacker
            if len(groups) == 1:
                logits = full_logits
            else:
                spans = [(group[0].start, group[-1].end)]
                if lead and title_text:
                    spans.insert(0, (0, len(title_text)))
                logits = self._span_logits(ids, full, spans)
            evidence = issue_evidence(part, self.taxonomy.ids)
            for issue_id, ev in evidence.items():
                row = issue_features(ev, self._model_view(issue_id, logits, group, scanned, sentence_logits,
                                                          ids, full), heads[n].get(issue_id))
                p = stacker.prob(row)
                if issue_id not in best or p > best[issue_id][0]:
                    if issue_id in best and best[issue_id][0] >= PASSAGE_FLOOR:
                        others[issue_id] = 1 - (1 - others.get(issue_id, 0.0)) * (1 - best[issue_id][0])
                    best[issue_id] = (p, ev, [st.sentence for st in part])
                    issue_rows[issue_id] = row
                elif p >= PASSAGE_FLOOR:
                    others[issue_id] = 1 - (1 - others.get(issue_id, 0.0)) * (1 - p)
        # An issue several passages carry is more likely than its best passage alone says.
        for issue_id, q in others.items():
            p, ev, group = best[issue_id]
            best[issue_id] = (1 - (1 - p) * (1 - q), ev, group)

        if not (counts["us"] > 0 and counts["china"] > 0):
            # Issues about the two sides' dealings with each other need both sides named.
            for issue_id in self._both_sides:
                _, ev, group = best[issue_id]
                best[issue_id] = (0.0, ev, group)
                issue_rows.pop(issue_id, None)
        max_raw = max((ev.raw for _, ev, _ in best.values()), default=0.0)
        rel_row = relevance_features(counts["us"], counts["china"], counts["stake"], sum(paired) / len(paired),
                                     max_raw, self._logit(full_logits, RELEVANT))
        return Scores(relevance_prob(self.relevance_stacker, rel_row), rel_row, rel_evidence, best, issue_rows)

    def classify(self, title: str, text: str) -> Classification:
        scores = self.score(title, text)
        relevant = scores.relevance >= self.taxonomy.relevance.threshold
        labels: list[IssueLabel] = []
        if relevant:
            for issue in self.taxonomy.issues:
                p, ev, group = scores.issues[issue.id]
                if p >= issue.threshold:
                    labels.append(IssueLabel(issue.id, p, self._evidence(ev, issue.id, group)))
            labels.sort(key=lambda lab: -lab.score)
        return Classification(relevant=relevant, relevance=scores.relevance, issues=labels,
                              relevance_evidence=scores.relevance_evidence)


@dataclass
class Scores:
    relevance: float
    relevance_row: list[float]
    relevance_evidence: list[Evidence]
    issues: dict[str, tuple[float, IssueEvidence, list[Sentence]]]   # best passage per issue
    issue_rows: dict[str, list[float]]                                # its stacker features


def load_classifier(issues_file: str | Path, model_dir: str | Path | None = None) -> Classifier:
    """The classifier for a taxonomy file, with a trained model.

    `model_dir` defaults to the model shipped in the package; pass the folder `uschina-digest
    train` wrote (`<data_dir>/classifier`) to use a refit one. A model trained for other issues
    still works: issues it does not know are scored from their terms alone.
    """
    taxonomy = load_taxonomy(issues_file)
    folder = Path(model_dir) if model_dir is not None else PACKAGED_MODEL
    if model_dir is None and not (folder / "model.json").exists():
        return Classifier(taxonomy)
    model, meta = load_model(folder)
    stackers = meta.get("stackers", {})
    for key, names in (("issue", ISSUE_FEATURES), ("passage", ISSUE_FEATURES), ("relevance", RELEVANCE_FEATURES)):
        if key in stackers and stackers[key].get("names") != names:
            raise ModelError(f"{folder}: the model was trained with other {key} features "
                             f"({stackers[key].get('names')}); run `uschina-digest train` again")
    return Classifier(
        taxonomy, model,
        Stacker.from_dict(stackers["issue"]) if "issue" in stackers else None,
        Stacker.from_dict(stackers["relevance"]) if "relevance" in stackers else None,
        Stacker.from_dict(stackers["passage"]) if "passage" in stackers else None,
    )


def trained_model_dir(settings) -> Path | None:
    """The folder `uschina-digest train` writes to, if it holds a model."""
    folder = Path(settings.data_dir) / "classifier"
    return folder if (folder / "model.json").exists() else None


def classifier_for(settings) -> Classifier:
    """The classifier the pipeline should use: the refit model if there is one, else the packaged one."""
    return load_classifier(settings.issues_file, trained_model_dir(settings))
