"""Deciding an item's relevance and issues from the trained model, with the evidence for each.

An item is cut into views (`features.View`): its title with the lead passage, then its title with
each later passage (a news lead is a single view). The model gives every view a probability of
being relevant and of each issue. Then:

- the item is relevant when the lead view's probability, or the mean over all views, reaches the
  relevance threshold (a long piece whose lead is scene-setting is judged by what most of it says;
  one China paragraph in a long piece about something else is not enough);
- an issue's probability is its best over the views that are themselves relevant (the lead view
  always counts), so a later passage about Washington's tariffs on Europe does not make a
  US–China piece a trade story;
- a relevant item carries each issue whose probability reaches the issue's threshold.

Thresholds are learned (F1-best on out-of-fold scores at training time) and stored with the model;
a `threshold` set on an issue in the taxonomy file overrides it. An issue the model was not
trained for (added to the taxonomy since, or with fewer than 3 labelled examples) is decided by its
term evidence alone, in the views that are relevant: a weight of 2 (a title cue, or two cues in the
lead) is 0.5. Terms as specific as "fentanyl" carry that well; a generic one ("Russia") does not,
which is why an issue with labelled examples gets a model column instead.
Evidence for a label is the view's sentences with the issue's terms, strongest first; when the
model decided without any term, the sentence whose words the model weighs highest for the issue.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flows.classify import features
from flows.classify.embedding import Embedder, load_embedder
from flows.classify.model import RELEVANT, LinearModel, ModelError, load_model
from flows.classify.terms import IssueEvidence, TermIndex
from flows.classify.text import Sentence, joined_text, passages, sentences
from flows.config import Taxonomy, load_taxonomy
from flows.records import Classification, Evidence, IssueLabel

PACKAGED_MODEL = Path(__file__).resolve().parent / "data"
MAX_EVIDENCE = 3
TITLE_WEIGHT = 2.0
TERMS_ONLY_SCALE = 2.0  # an untrained issue: w / (w + 2); 0.5 needs a title cue or two in the lead


@dataclass
class Scores:
    """Every probability the classifier computes for an item, before thresholds."""

    relevance: float
    view_relevance: list[float]
    issues: dict[str, float]
    deciding_view: dict[str, int]


class Classifier:
    """The trained linear model over words, embeddings and term evidence (see module docstring)."""

    def __init__(self, taxonomy: Taxonomy, model: LinearModel, embedder: Embedder | None = None):
        self.taxonomy = taxonomy
        self.model = model
        self.embedder = embedder or load_embedder()
        self.terms = TermIndex(taxonomy)
        self.sides = features.side_matcher(taxonomy)
        self.words = features.vectorizer(model.vocabulary, model.idf)
        self._word_names = self.words.get_feature_names_out()
        self._column = {label: n for n, label in enumerate(model.labels)}
        self.thresholds = {RELEVANT: _override(taxonomy.relevance.threshold, model.thresholds.get(RELEVANT))}
        for issue in taxonomy.issues:
            self.thresholds[issue.id] = _override(issue.threshold, model.thresholds.get(issue.id))
        h = hashlib.sha256(taxonomy.model_dump_json().encode())
        h.update(str(model.meta.get("trained_at", "")).encode())
        self.version = f"linear-{h.hexdigest()[:12]}"

    # ------------------------------------------------------------------ views

    def views(self, title: str, text: str) -> list[features.View]:
        """The title with each passage of the body (one view for a news lead)."""
        full = joined_text(title, text)
        sents = sentences(title, text)
        scanned = self.terms.scan(full, sents)
        side_hits = self._side_hits(full, sents)
        head = [st for st in scanned if st.sentence.in_title]
        body = [s for s in sents if not s.in_title]
        groups = passages(body) or [[]]
        title = title.strip()
        out = []
        for group in groups:
            part = head + [scanned[s.index] for s in group]
            counts = {side: 0.0 for side in features.SIDES}
            for st in part:
                for side, weight in side_hits.get(st.sentence.index, {}).items():
                    counts[side] += weight
            passage = full[group[0].start : group[-1].end] if group else ""
            out.append(features.View(title, passage, [st.sentence for st in part], part, counts))
        return out

    def _side_hits(self, full: str, sents: list[Sentence]) -> dict[int, dict[str, float]]:
        starts = [s.start for s in sents]
        out: dict[int, dict[str, float]] = {}
        for m in self.sides.find(full):
            i = bisect.bisect_right(starts, m.start) - 1
            if i < 0:
                continue
            for side in set(m.payloads):
                found = out.setdefault(i, {})
                found[side] = found.get(side, 0.0) + (TITLE_WEIGHT if sents[i].in_title else 1.0)
        return out

    # ------------------------------------------------------------------ scoring

    def view_probabilities(self, views: list[features.View]) -> np.ndarray:
        x = features.matrix(views, self.words, self.embedder, self.model.feature_issues)
        return self.model.probabilities(x)

    def score(self, title: str, text: str) -> Scores:
        views = self.views(title, text)
        return self._score(views, self.view_probabilities(views))

    def _score(self, views: list[features.View], probs: np.ndarray) -> Scores:
        rel = probs[:, self._column[RELEVANT]]
        relevance = float(max(rel[0], rel.mean()))
        counted = [n for n in range(len(views)) if n == 0 or rel[n] >= self.thresholds[RELEVANT]]
        issues: dict[str, float] = {}
        deciding: dict[str, int] = {}
        for issue in self.taxonomy.issues:
            k = self._column.get(issue.id)
            if k is None:  # not trained for: its terms alone
                raws = [views[n].evidence([issue.id])[issue.id].raw for n in counted]
                best = int(np.argmax(raws))
                p = raws[best] / (raws[best] + TERMS_ONLY_SCALE)
            else:
                best = max(counted, key=lambda n: probs[n, k])
                p = float(probs[best, k])
            issues[issue.id], deciding[issue.id] = p, counted[best] if k is None else best
        return Scores(relevance, [float(r) for r in rel], issues, deciding)

    def classify(self, title: str, text: str) -> Classification:
        views = self.views(title, text)
        scores = self._score(views, self.view_probabilities(views))
        return self._decide(views, scores)

    def classify_many(self, items: list[tuple[str, str]]) -> list[Classification]:
        """Several items with one feature matrix (what ingest and evaluate use)."""
        all_views = [self.views(title, text) for title, text in items]
        flat = [v for views in all_views for v in views]
        probs = self.view_probabilities(flat)
        out, row = [], 0
        for views in all_views:
            out.append(self._decide(views, self._score(views, probs[row : row + len(views)])))
            row += len(views)
        return out

    def _decide(self, views: list[features.View], scores: Scores) -> Classification:
        relevant = scores.relevance >= self.thresholds[RELEVANT]
        labels: list[IssueLabel] = []
        if relevant:
            for issue in self.taxonomy.issues:
                p = scores.issues[issue.id]
                if p >= self.thresholds[issue.id]:
                    view = views[scores.deciding_view[issue.id]]
                    labels.append(IssueLabel(issue.id, p, self._evidence(view, issue.id)))
            labels.sort(key=lambda lab: -lab.score)
        return Classification(
            relevant=relevant,
            relevance=scores.relevance,
            issues=labels,
            relevance_evidence=self._relevance_evidence(views[0]),
        )

    # ------------------------------------------------------------------ evidence

    def _evidence(self, view: features.View, issue_id: str) -> list[Evidence]:
        ev: IssueEvidence = view.evidence([issue_id])[issue_id]
        if ev.hits:
            hits = sorted(ev.hits, key=lambda h: -h.weight)[:MAX_EVIDENCE]
            return [
                Evidence(h.sentence.text, h.sentence.start, h.sentence.end, sorted(set(h.terms)), h.weight)
                for h in hits
            ]
        if issue_id not in self._column or not view.sentences:
            return []
        # Decided by the model without a taxonomy term: the sentence its words weigh highest.
        weights = self.model.word_weights(issue_id)
        x = self.words.transform([s.text for s in view.sentences])
        contributions = x.multiply(weights).tocsr()
        best = int(np.argmax(np.asarray(contributions.sum(axis=1)).ravel()))
        row = contributions.getrow(best)
        top = [self._word_names[j] for j, v in sorted(zip(row.indices, row.data), key=lambda t: -t[1])[:4] if v > 0]
        s = view.sentences[best]
        return [Evidence(s.text, s.start, s.end, top, float(row.sum()))]

    def _relevance_evidence(self, view: features.View) -> list[Evidence]:
        """The lead's sentences that name the two sides (or a shared stake)."""
        out = []
        for st in view.scanned:
            s = st.sentence
            found = [m for m in self.sides.find(s.text)]
            kinds = {p for m in found for p in m.payloads}
            if {"us", "china"} <= kinds or "stake" in kinds:
                out.append(Evidence(s.text, s.start, s.end, sorted({m.text for m in found})))
        return out[:MAX_EVIDENCE]


def _override(configured: float | None, learned: float | None) -> float:
    if configured is not None:
        return configured
    return learned if learned is not None else 0.5


def load_classifier(issues_file: str | Path, model_dir: str | Path | None = None) -> Classifier:
    """The classifier for a taxonomy file with a trained model: the one shipped in the package, or
    the folder `uschina-digest train` wrote (`<data_dir>/classifier`)."""
    taxonomy = load_taxonomy(issues_file)
    folder = Path(model_dir) if model_dir is not None else PACKAGED_MODEL
    if not (folder / "model.json").exists():
        raise ModelError(f"{folder}: no model.json; run `uschina-digest train`")
    return Classifier(taxonomy, load_model(folder))


def trained_model_dir(settings) -> Path | None:
    """The folder `uschina-digest train` writes to, if it holds a model."""
    folder = Path(settings.data_dir) / "classifier"
    return folder if (folder / "model.json").exists() else None


def classifier_for(settings) -> Classifier:
    """The classifier the pipeline should use: the refit model if there is one, else the packaged one."""
    return load_classifier(settings.issues_file, trained_model_dir(settings))
