"""Fitting the classifier from labelled items and analysts' corrections, and measuring the recipe.

The recipe (chosen by cross-validation on the non-frozen part of the 1,650 labelled NYT items;
docs/classifier.md has the figures):
- one view per labelled item (its headline and lead), `features.matrix` over it;
- per label, a logistic regression (scikit-learn, liblinear, C = 4, balanced class weights):
  relevance on every item, each issue on the relevant items only (issues are annotated on them,
  and at prediction time an issue is only read for an item judged relevant);
- per label, the threshold that maximises F1 on out-of-fold probabilities (5 folds,
  `StratifiedGroupKFold` with near-copies in one group), so no threshold is chosen on the items
  that produced the probabilities it is judged on.

Corrections (`uschina-digest label`) are training items too: their issues are the item's labels at
the time with the analyst's adds and removes applied, weighted above the labelled files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold

from flows.classify import features
from flows.classify.classifier import Classifier
from flows.classify.embedding import Embedder, load_embedder
from flows.classify.model import RELEVANT, LinearModel
from flows.classify.splits import near_copy_groups
from flows.classify.terms import TermIndex
from flows.classify.text import joined_text, sentences
from flows.config import Taxonomy
from flows.records import Classification

C = 4.0
FOLDS = 5
MIN_POSITIVES = 3  # fewer: the issue is decided by its terms (no threshold can be learned)
CORRECTION_WEIGHT = 3.0
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


@dataclass
class Example:
    """One training row: a headline and lead with the labels it carries (absent labels abstain)."""

    id: str
    title: str
    text: str
    labels: dict[str, int]
    weight: float = 1.0


def labelled_example(item: dict, issue_ids: Sequence[str]) -> Example:
    """A labelled item: relevance always; issues only on a relevant item."""
    relevant = bool(item.get("relevant", bool(item.get("issues"))))
    labels = {RELEVANT: int(relevant)}
    if relevant:
        gold = set(item.get("issues", []))
        labels.update({i: int(i in gold) for i in issue_ids})
    return Example(str(item.get("id", "")), item.get("title", ""), item["text"], labels)


def correction_example(row: dict, current: Classification | None, issue_ids: Sequence[str]) -> Example:
    """A corrected item: its labels when corrected (`current`), with the analyst's word applied."""
    issues = {lab.id for lab in current.issues} if current else set()
    issues = (issues | set(row.get("add", []))) - set(row.get("remove", []))
    relevant = row.get("relevant")
    if relevant is None:
        relevant = bool(issues) or bool(current and current.relevant)
    labels = {RELEVANT: int(relevant)}
    if relevant:
        labels.update({i: int(i in issues) for i in issue_ids})
    return Example(str(row.get("id", "")), row.get("title", ""), row["text"], labels, CORRECTION_WEIGHT)


# ---------------------------------------------------------------- features


class Prepared:
    """The examples' views and the blocks that do not depend on the vocabulary (computed once, so
    cross-validation refits only the word block per fold)."""

    def __init__(self, taxonomy: Taxonomy, examples: list[Example], embedder: Embedder):
        self.taxonomy = taxonomy
        self.examples = examples
        self.embedder = embedder
        terms = TermIndex(taxonomy)
        sides = features.side_matcher(taxonomy)
        self.views = [_whole_view(terms, sides, e.title, e.text) for e in examples]
        self.dense = (
            np.hstack([features.embedding_block(embedder, self.views), features.term_block(self.views, taxonomy.ids)])
            if examples
            else np.zeros((0, 0))
        )

    def matrix(self, rows: np.ndarray, words) -> sp.csr_matrix:
        return sp.hstack(
            [words.transform([self.views[i].text for i in rows]), sp.csr_matrix(self.dense[rows])],
            format="csr",
            dtype=np.float32,
        )


def _whole_view(terms: TermIndex, sides, title: str, text: str) -> features.View:
    """A labelled item read whole, as one view (it is a headline and a lead)."""
    full = joined_text(title, text)
    sents = sentences(title, text)
    scanned = terms.scan(full, sents)
    counts = {side: 0.0 for side in features.SIDES}
    for m in sides.find(full):
        in_title = bool(title.strip()) and m.start < len(title.strip())
        for side in set(m.payloads):
            counts[side] += 2.0 if in_title else 1.0
    body = [s for s in sents if not s.in_title]
    passage = full[body[0].start : body[-1].end] if body else ""
    return features.View(title.strip(), passage, sents, scanned, counts)


# ---------------------------------------------------------------- fitting


def trainable(prep: Prepared, rows: np.ndarray) -> list[str]:
    """RELEVANT and the issues with at least MIN_POSITIVES positive (and one negative) rows."""
    out = []
    for label in [RELEVANT, *prep.taxonomy.ids]:
        y = [prep.examples[i].labels[label] for i in rows if label in prep.examples[i].labels]
        if MIN_POSITIVES <= sum(y) < len(y):
            out.append(label)
    return out


def _fit_columns(prep: Prepared, rows: np.ndarray, labels: list[str]):
    """The word vectorizer and one logistic column per label, fitted on some rows."""
    words = features.vectorizer().fit([prep.views[i].text for i in rows])
    x = prep.matrix(rows, words)
    coef = np.zeros((len(labels), x.shape[1]), dtype=np.float32)
    intercept = np.zeros(len(labels), dtype=np.float32)
    for k, label in enumerate(labels):
        have = np.array([label in prep.examples[i].labels for i in rows])
        y = np.array([prep.examples[i].labels.get(label, 0) for i in rows])[have]
        w = np.array([prep.examples[i].weight for i in rows])[have]
        lr = LogisticRegression(C=C, class_weight="balanced", solver="liblinear", max_iter=1000)
        lr.fit(x[have], y, sample_weight=w)
        coef[k], intercept[k] = lr.coef_[0], lr.intercept_[0]
    return words, coef, intercept


def _probabilities(prep: Prepared, rows: np.ndarray, words, coef, intercept) -> np.ndarray:
    z = np.asarray(prep.matrix(rows, words) @ coef.T, dtype=np.float64) + intercept
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _strata(prep: Prepared, rows: np.ndarray) -> np.ndarray:
    """Stratify folds by relevance and the first issue, so rare issues spread over the folds."""
    ids = prep.taxonomy.ids
    out = []
    for i in rows:
        lab = prep.examples[i].labels
        first = next((n + 1 for n, issue in enumerate(ids) if lab.get(issue)), 0)
        out.append(lab.get(RELEVANT, 0) + 2 * first)
    return np.array(out)


def _folds(prep: Prepared, rows: np.ndarray, groups: list[str], folds: int, seed: int):
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    g = np.array([groups[i] for i in rows])
    return [(rows[a], rows[b]) for a, b in splitter.split(rows, _strata(prep, rows), g)]


def out_of_fold(
    prep: Prepared, rows: np.ndarray, groups: list[str], labels: list[str], folds: int = FOLDS, seed: int = 0
) -> np.ndarray:
    """Each row's probabilities from a model fitted without its fold (and its near-copies)."""
    probs = np.zeros((len(rows), len(labels)))
    where = {r: n for n, r in enumerate(rows)}
    for fit_rows, score_rows in _folds(prep, rows, groups, folds, seed):
        p = _probabilities(prep, score_rows, *_fit_columns(prep, fit_rows, labels))
        probs[[where[r] for r in score_rows]] = p
    return probs


def best_thresholds(prep: Prepared, rows: np.ndarray, probs: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Per label, the F1-best threshold on the grid ."""
    out = {}
    for k, label in enumerate(labels):
        have = np.array([label in prep.examples[i].labels for i in rows])
        y = np.array([prep.examples[i].labels.get(label, 0) for i in rows])[have]
        scores = [f1_score(y, probs[have, k] >= t, zero_division=0) for t in THRESHOLD_GRID]
        out[label] = float(THRESHOLD_GRID[int(np.argmax(scores))])
    return out


def fit(
    prep: Prepared,
    rows: np.ndarray | None = None,
    groups: list[str] | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> LinearModel:
    """The model fitted on some rows of `prep` (all by default), with out-of-fold thresholds."""
    rows = np.arange(len(prep.examples)) if rows is None else rows
    groups = groups or near_copy_groups([{"id": e.id, "title": e.title, "text": e.text} for e in prep.examples])
    labels = trainable(prep, rows)
    log(f"thresholds from {FOLDS}-fold out-of-fold probabilities on {len(rows)} items …")
    thresholds = best_thresholds(prep, rows, out_of_fold(prep, rows, groups, labels), labels)
    log("fitting on all of them …")
    words, coef, intercept = _fit_columns(prep, rows, labels)
    vocabulary = {w: int(n) for w, n in words.vocabulary_.items()}
    return LinearModel(
        labels, list(prep.taxonomy.ids), vocabulary, words.idf_.astype(np.float32), coef, intercept, thresholds
    )


# ---------------------------------------------------------------- the command's entry points


def file_record(path: str | Path) -> dict:
    """A training file's name, size and SHA-256: what a model records of the data it came from."""
    data = Path(path).read_bytes()
    return {"file": Path(path).name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def train(
    taxonomy: Taxonomy,
    labelled: list[dict],
    corrections: list[dict] = (),
    current: Callable[[str, str], Classification] | None = None,
    sources: list[dict] = (),
    log: Callable[[str], None] = lambda m: None,
) -> LinearModel:
    """The shipped recipe on labelled items plus corrections; `current` classifies a corrected item
    as the store labelled it (the analyst's adds and removes apply on top)."""
    ids = taxonomy.ids
    examples = [labelled_example(item, ids) for item in labelled]
    for row in corrections:
        examples.append(correction_example(row, current(row.get("title", ""), row["text"]) if current else None, ids))
    if not any(e.labels.get(RELEVANT) for e in examples):
        raise ValueError("nothing to learn from: no relevant labelled item or correction")
    log(f"{len(labelled)} labelled items, {len(corrections)} corrections; embedding and term features …")
    prep = Prepared(taxonomy, examples, load_embedder())
    model = fit(prep, log=log)
    counts = {label: int(sum(e.labels.get(label, 0) for e in examples)) for label in model.labels}
    model.meta = {
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "recipe": {"C": C, "folds": FOLDS, "class_weight": "balanced", "issues_on": "relevant items"},
        "embedding": prep.embedder.name,
        "data": list(sources),
        "examples": {"labelled": len(labelled), "corrections": len(corrections)},
        "positives": counts,
    }
    return model


def cross_validate(
    taxonomy: Taxonomy,
    items: list[dict],
    folds: int = FOLDS,
    draws: Sequence[int] = (0,),
    log: Callable[[str], None] = lambda m: None,
) -> dict[int, list[tuple[dict, Classification]]]:
    """The whole recipe scored on items it never saw: per fold draw, every item with the verdict of
    a model fitted (thresholds included, by inner folds) without its fold and its near-copies."""
    prep = Prepared(taxonomy, [labelled_example(i, taxonomy.ids) for i in items], load_embedder())
    groups = near_copy_groups(items)
    rows = np.arange(len(items))
    out = {}
    for draw in draws:
        verdicts: list[Classification | None] = [None] * len(items)
        for n, (fit_rows, score_rows) in enumerate(_folds(prep, rows, groups, folds, draw)):
            log(f"draw {draw}: fold {n + 1}/{folds}")
            model = fit(prep, fit_rows, groups)
            clf = Classifier(taxonomy, model, prep.embedder)
            for i, v in zip(
                score_rows, clf.classify_many([(items[i].get("title", ""), items[i]["text"]) for i in score_rows])
            ):
                verdicts[i] = v
        out[draw] = list(zip(items, verdicts))
    return out
