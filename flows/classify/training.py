"""Fitting the learned part of the classifier, and the stacker that calibrates it with the terms.

Where the training signal comes from, weakest first:
- **weak labels** on unlabelled items (a corpus file and/or the items in the store): the current
  classifier's confident calls only (probability ≥ 0.7 is a positive, ≤ 0.2 a negative, the rest
  abstain), so the text model learns the words that surround the taxonomy terms;
- the taxonomy's **example sentences** (positives for their issue);
- **labelled items** (`relevant` and `issues`), e.g. the train split of a dev set;
- analysts' **corrections**, which outweigh everything else.

The embedding head (`fit_head`) learns from the last two only: labelled items and corrections.

The stacker and the suggested thresholds are fitted on out-of-fold predictions for the labelled
items, so the model never grades its own homework. Unlabelled items that are near-duplicates of a
labelled item are dropped, so nothing about a held-out item leaks in through a rewrite of it.
scikit-learn is needed here only; prediction runs on numpy alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from flows.classify import Classifier
from flows.classify.features import ISSUE_FEATURES, RELEVANCE_FEATURES, relevance_prob
from flows.classify.model import RELEVANT, LinearModel, Stacker, features
from flows.classify.evaluation import evaluate_pairs
from flows.config import Taxonomy
from flows.models import Classification, IssueLabel

WEAK_POSITIVE = 0.8
WEAK_NEGATIVE = 0.2
WEIGHTS = {"weak": 1.0, "example": 2.0, "labelled": 3.0, "correction": 6.0}
MIN_DF = 2
MAX_VOCAB = 60000
# Regularisation of the text model, chosen by 5-fold cross-validation of the whole recipe on the
# dev set's train split (macro-F1 0.834 at C=4, 0.845 at 2, 0.854 at 1, 0.859 at 0.5, 0.845 at
# 0.25; confirmed on a second fold assignment, 0.841 at 4 vs 0.863 at 0.5): weak labels are noisy,
# and a smoother model generalises better.
C_TEXT = 0.5
C_STACKER = 1.0
# The relevance column of the text model also reads the item's sentence embedding (WordLlama token
# vectors, `embedding.py`), appended to its TF-IDF vector at this scale. Chosen by 5-fold CV of
# the whole recipe on all 150 dev items, two fold draws (macro / micro / relevance F1): without
# embeddings 0.816 / 0.828 / 0.955 and 0.832 / 0.826 / 0.949; for relevance only 0.822 / 0.837 /
# 0.961 and 0.842 / 0.842 / 0.961 (kept); for every label 0.804 / 0.829 / 0.961 and 0.799 /
# 0.818 / 0.961. An item's mean token vector tells "about China and America" from "elsewhere"
# well; which issue it is about, the words themselves tell better. (So the classifier embeds the
# whole text only: passages are read for issues.)
EMBEDDING_SCALE = 1.0
# The embedding head (`fit_head`): a logistic model per issue over the title's and the lead's
# WordLlama embeddings, fitted on labelled items and corrections alone, whose logit the stacker
# reads next to the text model's. The text model learns mostly from weak labels, i.e. from the
# terms' view of an issue; the head learns the annotators' (diplomacy as the relationship itself,
# not every ambassador quoted on a currency). 5-fold CV of the whole recipe on all 150 dev items,
# five fold draws, macro-F1 (with bootstrap thresholds): 0.832 / 0.851 / 0.814 / 0.813 / 0.807
# without it, 0.835 / 0.858 / 0.837 / 0.837 / 0.830 with it at C = 1 (0.837-0.840 at C = 1-10;
# the joined text's embedding alone instead of title and lead: 0.831-0.835; a TF-IDF head on the
# labelled items: 0.816).
C_HEAD = 1.0
HEAD_MIN_POSITIVES = 2
# Suggested thresholds: per issue, the F1-best threshold on out-of-fold scores averaged over
# bootstrap resamples of the labelled items (on a few positives the best threshold of one sample
# lands anywhere on a wide plateau; the average is the shrinkage, so no pull towards 0.5 is
# needed any more). 5-fold CV, five fold draws, macro-F1, without the embedding head: the single
# best threshold pulled half-way to 0.5 (the earlier rule) 0.822 / 0.842 / 0.806 / 0.795 / 0.791,
# bootstrap-averaged 0.831 / 0.848 / ...; with the head: half-way 0.835 / 0.823 / 0.828 / 0.826
# / 0.828, bootstrap-averaged pulled 0.75 of the way 0.845 / 0.833 / 0.838 / 0.836 / 0.828,
# bootstrap-averaged 0.848 / 0.840 / 0.844 / 0.837 / 0.831 (kept).
THRESHOLD_RESAMPLES = 200
FOLDS = 5
MIN_POSITIVES = 15
SHINGLE = 4
NEAR_DUPLICATE = 0.5


@dataclass
class Example:
    title: str
    text: str
    labels: dict[str, int]           # label -> 0/1; a label not present abstains
    weight: float
    source: str

    @property
    def joined(self) -> str:
        return f"{self.title}\n\n{self.text}" if self.title else self.text


# ---------------------------------------------------------------- data


def _shingles(text: str) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i:i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}


def drop_near_duplicates(unlabelled: list[dict], labelled: list[dict]) -> tuple[list[dict], int]:
    """Unlabelled items minus those that are (near) copies of a labelled one."""
    ids = {str(i.get("id")) for i in labelled if i.get("id") is not None}
    index: dict[str, list[int]] = {}
    sizes = []
    for n, item in enumerate(labelled):
        sh = _shingles(f"{item.get('title', '')} {item['text']}")
        sizes.append(len(sh))
        for s in sh:
            index.setdefault(s, []).append(n)
    titles = {item.get("title", "").strip().lower() for item in labelled if item.get("title", "").strip()}
    kept = []
    for item in unlabelled:
        if str(item.get("id")) in ids or item.get("title", "").strip().lower() in titles:
            continue
        sh = _shingles(f"{item.get('title', '')} {item['text']}")
        shared = Counter(n for s in sh for n in index.get(s, ()))
        if any(c / (len(sh) + sizes[n] - c) >= NEAR_DUPLICATE for n, c in shared.items()):
            continue
        kept.append(item)
    return kept, len(unlabelled) - len(kept)


def _unlabelled_example(item: dict) -> Example:
    return Example(item.get("title", ""), item["text"], {}, 0.0, "unlabelled")


def labelled_example(item: dict, taxonomy: Taxonomy, source: str = "labelled") -> Example:
    relevant = bool(item.get("relevant", bool(item.get("issues"))))
    labels = {RELEVANT: int(relevant)}
    if relevant:   # issues are only annotated on relevant items
        gold = set(item.get("issues", []))
        labels.update({i: int(i in gold) for i in taxonomy.ids})
    return Example(item.get("title", ""), item["text"], labels, WEIGHTS[source], source)


def correction_examples(rows: list[dict]) -> list[Example]:
    """Rows `{title, text, add: [...], remove: [...], relevant: bool|None}` from the store."""
    out = []
    for row in rows:
        labels: dict[str, int] = {}
        for issue in row.get("remove", []):
            labels[issue] = 0
        for issue in row.get("add", []):
            labels[issue] = 1
        if row.get("relevant") is not None:
            labels[RELEVANT] = int(row["relevant"])
        elif row.get("add"):
            labels[RELEVANT] = 1
        if labels:
            out.append(Example(row.get("title", ""), row["text"], labels, WEIGHTS["correction"], "correction"))
    return out


def taxonomy_examples(taxonomy: Taxonomy) -> list[Example]:
    return [Example("", sentence, {RELEVANT: 1, issue.id: 1}, WEIGHTS["example"], "example")
            for issue in taxonomy.issues for sentence in issue.examples]


def weak_examples(classifier: Classifier, items: list[dict]) -> list[Example]:
    """Confident calls of `classifier` on unlabelled items; unsure labels abstain."""
    out = []
    for item in items:
        scores = classifier.score(item.get("title", ""), item["text"])
        labels: dict[str, int] = {}
        if scores.relevance >= WEAK_POSITIVE:
            labels[RELEVANT] = 1
        elif scores.relevance <= WEAK_NEGATIVE:
            labels[RELEVANT] = 0
        for issue_id, (p, _ev, _g) in scores.issues.items():
            if p >= WEAK_POSITIVE:
                labels[issue_id] = 1
            elif p <= WEAK_NEGATIVE:
                labels[issue_id] = 0
        out.append(Example(item.get("title", ""), item["text"], labels, WEIGHTS["weak"], "weak"))
    return out


# ---------------------------------------------------------------- fitting


def build_vocabulary(texts: list[tuple[str, int]]) -> tuple[dict[str, int], np.ndarray]:
    """Features seen in at least MIN_DF texts (each a joined text and its title's length), with
    smoothed IDF."""
    df: Counter[str] = Counter()
    for text, title_end in texts:
        df.update(set(features(text, title_end)))
    kept = [f for f, c in df.most_common(MAX_VOCAB) if c >= MIN_DF]
    kept.sort()
    n = len(texts)
    idf = np.array([math.log((1 + n) / (1 + df[f])) + 1.0 for f in kept], dtype=np.float32)
    return {f: i for i, f in enumerate(kept)}, idf


_EMBEDDINGS: dict[str, np.ndarray] = {}     # text -> its sentence embedding
MAX_CACHED_EMBEDDINGS = 50_000                # 256 floats each: at most ~50 MiB


def _embed_texts(embedder, texts: list[str]) -> np.ndarray:
    """Each text's sentence embedding, cached by text: cross-validation refits the text model
    dozens of times on the same corpus."""
    missing = list(set(texts) - _EMBEDDINGS.keys())
    if len(_EMBEDDINGS) + len(missing) > MAX_CACHED_EMBEDDINGS:
        _EMBEDDINGS.clear()
        missing = list(set(texts))
    _EMBEDDINGS.update(zip(missing, embedder.embed_many(missing)))
    if not texts:
        return np.zeros((0, embedder.dim), np.float32)
    return np.stack([_EMBEDDINGS[t] for t in texts])


def _matrix(model: LinearModel, examples: list[Example]):
    from scipy.sparse import csr_matrix

    indptr, indices, data = [0], [], []
    for ex in examples:
        ids, vals = model.vector(ex.joined, len(ex.title))
        indices.extend(ids.tolist())
        data.extend(vals.tolist())
        indptr.append(len(indices))
    return csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int64), indptr),
                      shape=(len(examples), len(model.vocab)))


def fit_text_model(examples: list[Example], labels: list[str], vocab: dict[str, int], idf: np.ndarray,
                   c: float | None = None, embedding: bool = True) -> LinearModel:
    """One logistic regression per label over the examples that have that label.

    A label with fewer than MIN_POSITIVES positive examples gets no column: a model fitted on a
    handful of sentences would only drag the score down, so such an issue is scored from its
    terms alone (the stacker treats a missing column as neutral). With `embedding`, the relevance
    column also reads the text's sentence embedding (its weights are the model's `dense` rows).
    """
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression

    c = C_TEXT if c is None else c
    probe = LinearModel([], vocab, idf, np.zeros((len(vocab), 0), np.float32), np.zeros(0, np.float32))
    X = _matrix(probe, examples)
    embedder = X_dense = None
    if embedding and RELEVANT in labels:
        from flows.classify.embedding import load_embedder

        embedder = load_embedder()
        X_dense = hstack([X, csr_matrix(EMBEDDING_SCALE * _embed_texts(embedder, [ex.joined for ex in examples]))],
                         format="csr")
    width = len(vocab) + (embedder.dim if embedder is not None else 0)

    def fit_one(label: str):
        rows = [n for n, ex in enumerate(examples) if label in ex.labels]
        y = np.array([examples[n].labels[label] for n in rows])
        if y.sum() < MIN_POSITIVES or y.sum() == len(y):
            return None
        w = np.array([examples[n].weight for n in rows])
        pos = (y * w).sum()
        neg = ((1 - y) * w).sum()
        # Balance the classes part-way so rare issues are not drowned by negatives.
        w = np.where(y == 1, w * (neg / pos) ** 0.5, w)
        # The dual problem: far fewer examples than features, so it converges several times faster
        # than the primal (same objective, same solution within liblinear's tolerance).
        clf = LogisticRegression(C=c, solver="liblinear", dual=True, max_iter=500)
        dense = label == RELEVANT and X_dense is not None
        clf.fit((X_dense if dense else X)[rows], y, sample_weight=w)
        coef = np.zeros(width, np.float32)          # no embedding weights for the other labels
        coef[:clf.coef_.shape[1]] = clf.coef_[0]
        return label, coef, float(clf.intercept_[0])

    # One label after another: liblinear holds the GIL, so threads only added contention.
    fitted = [r for r in map(fit_one, labels) if r is not None]
    coef = np.stack([f[1] for f in fitted], axis=1) if fitted else np.zeros((width, 0), np.float32)
    dense = coef[len(vocab):] if embedder is not None else None
    return LinearModel([f[0] for f in fitted], vocab, idf, np.ascontiguousarray(coef[:len(vocab)]),
                       np.array([f[2] for f in fitted], dtype=np.float32),
                       dense=None if dense is None else np.ascontiguousarray(dense), embedder=embedder,
                       dense_scale=EMBEDDING_SCALE)


def head_input(embedder, examples: list[Example]) -> np.ndarray:
    """[title embedding, body embedding] per example, as the embedding head reads an item's lead."""
    titles = _embed_texts(embedder, [ex.title.strip() for ex in examples])
    bodies = _embed_texts(embedder, [ex.text for ex in examples])
    return np.hstack([titles, bodies])


def fit_head(examples: list[Example], issue_ids: list[str], model: LinearModel) -> LinearModel:
    """Give `model` an embedding head fitted on the labelled items and corrections among
    `examples` (weak labels and the taxonomy's sentences are left out: the head is there to
    learn what the annotators mean by an issue). An issue needs HEAD_MIN_POSITIVES labelled
    positives for a column; the classes are balanced, since most issues have a handful."""
    from sklearn.linear_model import LogisticRegression
    from flows.classify.embedding import load_embedder

    gold = [ex for ex in examples if ex.source in ("labelled", "correction")]
    embedder = model.embedder or load_embedder()
    X = head_input(embedder, gold)
    fitted = []
    for issue in issue_ids:
        rows = [n for n, ex in enumerate(gold) if issue in ex.labels]
        y = np.array([gold[n].labels[issue] for n in rows])
        if y.sum() < HEAD_MIN_POSITIVES or y.sum() == len(y):
            continue
        clf = LogisticRegression(C=C_HEAD, class_weight="balanced", max_iter=2000)
        clf.fit(X[rows], y, sample_weight=np.array([gold[n].weight for n in rows]))
        fitted.append((issue, clf.coef_[0].astype(np.float32), float(clf.intercept_[0])))
    model.embedder = embedder
    model.head_labels = [f[0] for f in fitted]
    model.head_coef = (np.ascontiguousarray(np.stack([f[1] for f in fitted], axis=1)) if fitted
                       else None)
    model.head_intercept = np.array([f[2] for f in fitted], dtype=np.float32) if fitted else None
    return model


def _fold(item: dict, folds: int) -> int:
    return int(hashlib.sha256(f"fold:{item.get('id', item.get('title'))}".encode()).hexdigest(), 16) % folds


@dataclass
class StackRows:
    issue_x: list[list[float]] = field(default_factory=list)
    issue_y: list[int] = field(default_factory=list)
    issue_ids: list[str] = field(default_factory=list)
    rel_x: list[list[float]] = field(default_factory=list)
    rel_y: list[int] = field(default_factory=list)


def _stack_rows(classifier: Classifier, items: list[dict], rows: StackRows) -> list[tuple[dict, object]]:
    scored = []
    for item in items:
        scores = classifier.score(item.get("title", ""), item["text"])
        scored.append((item, scores))
        relevant = bool(item.get("relevant", bool(item.get("issues"))))
        rows.rel_x.append(scores.relevance_row)
        rows.rel_y.append(int(relevant))
        if relevant:
            gold = set(item.get("issues", []))
            for issue_id, row in scores.issue_rows.items():
                rows.issue_x.append(row)
                rows.issue_y.append(int(issue_id in gold))
                rows.issue_ids.append(issue_id)
    return scored


def fit_stacker(x: list[list[float]], y: list[int], names: list[str], c: float | None = None) -> Stacker:
    from sklearn.linear_model import LogisticRegression

    c = C_STACKER if c is None else c
    clf = LogisticRegression(C=c, max_iter=1000)
    clf.fit(np.array(x), np.array(y))
    return Stacker(names, [float(v) for v in clf.coef_[0]], float(clf.intercept_[0]))


def _f1_at(probs: np.ndarray, gold: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """F1 at each threshold of `grid` (0 where nothing is right)."""
    chosen = probs[:, None] >= grid[None, :]
    tp = (chosen & gold[:, None]).sum(axis=0)
    fp = (chosen & ~gold[:, None]).sum(axis=0)
    fn = (~chosen & gold[:, None]).sum(axis=0)
    return np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)


def suggest_thresholds(rows: StackRows, stacker: Stacker, issue_ids: list[str],
                       default: float = 0.5) -> dict[str, float]:
    """Per issue, the F1-best threshold on out-of-fold scores, averaged over bootstrap resamples
    of them (see THRESHOLD_RESAMPLES).

    Issues with fewer than 3 labelled positives keep the default: too little data to move it.
    The resamples are drawn from a fixed seed, so the same rows always give the same thresholds.
    """
    probs = np.array([stacker.prob(x) for x in rows.issue_x])
    gold = np.array(rows.issue_y, dtype=bool)
    which = np.array(rows.issue_ids)
    grid = np.round(np.arange(0.10, 0.905, 0.01), 2)
    out = {}
    for issue in issue_ids:
        mask = which == issue
        p, y = probs[mask], gold[mask]
        if y.sum() < 3:
            out[issue] = default
            continue
        rng = np.random.default_rng(0)
        best = []
        for _ in range(THRESHOLD_RESAMPLES):
            pick = rng.integers(0, len(p), len(p))
            if not y[pick].any():
                continue
            f1 = _f1_at(p[pick], y[pick], grid)
            best.append(float(grid[f1 == f1.max()].mean()))     # the middle of the best plateau
        out[issue] = round(float(np.mean(best)), 2)
    return out


@dataclass
class TrainResult:
    model: LinearModel
    issue_stacker: Stacker
    relevance_stacker: Stacker
    thresholds: dict[str, float]
    counts: dict[str, int]
    out_of_fold: list[tuple[dict, Classification]] = field(default_factory=list)
    passage_stacker: Stacker | None = None


def _fit_stackers(taxonomy: Taxonomy, weak: list[Example], fixed: list[Example], labelled: list[dict],
                  labels: list[str], vocab: dict[str, int], idf: np.ndarray):
    """Stackers and thresholds from out-of-fold scores of the labelled items."""
    rows = StackRows()
    body_rows = StackRows()      # the same items without their titles: how body text alone reads
    scored: list[tuple[dict, object]] = []
    for k in range(FOLDS):
        held = [i for i in labelled if _fold(i, FOLDS) == k]
        if not held:
            continue
        rest = [labelled_example(i, taxonomy) for i in labelled if _fold(i, FOLDS) != k]
        fold_model = fit_head(fixed + rest, taxonomy.ids, fit_text_model(weak + fixed + rest, labels, vocab, idf))
        fold_classifier = Classifier(taxonomy, fold_model)
        scored += _stack_rows(fold_classifier, held, rows)
        _stack_rows(fold_classifier, [dict(i, title="") for i in held], body_rows)
    if not rows.issue_y or not 0 < sum(rows.issue_y) < len(rows.issue_y) or len(set(rows.rel_y)) < 2:
        return None
    issue_stacker = fit_stacker(rows.issue_x, rows.issue_y, ISSUE_FEATURES)
    passage_stacker = fit_stacker(body_rows.issue_x, body_rows.issue_y, ISSUE_FEATURES)
    relevance_stacker = fit_stacker(rows.rel_x, rows.rel_y, RELEVANCE_FEATURES)
    thresholds = suggest_thresholds(rows, issue_stacker, taxonomy.ids)
    out_of_fold = []
    for item, scores in scored:
        rel = relevance_prob(relevance_stacker, scores.relevance_row)
        issues = []
        if rel >= taxonomy.relevance.threshold:
            for issue_id, row in scores.issue_rows.items():
                p = issue_stacker.prob(row)
                if p >= thresholds.get(issue_id, 0.5):
                    issues.append(IssueLabel(issue_id, p))
        out_of_fold.append((item, Classification(rel >= taxonomy.relevance.threshold, rel, issues)))
    return issue_stacker, relevance_stacker, thresholds, out_of_fold, passage_stacker


def train(taxonomy: Taxonomy, unlabelled: list[dict], labelled: list[dict],
          corrections: list[dict] | None = None, self_training: int = 1, log=print,
          exclude: list[dict] | None = None) -> TrainResult:
    """Fit the text model, the stackers and suggested thresholds (see the module docstring).

    `exclude`: labelled items kept out of training (a held-out split); their copies are dropped
    from the unlabelled items too.

    Round 0 takes weak labels from the terms alone; each self-training round relabels the
    unlabelled items with the hybrid fitted in the round before.
    """
    unlabelled, dropped = drop_near_duplicates(unlabelled, labelled + (exclude or []))
    log(f"unlabelled items: {len(unlabelled)} (dropped {dropped} copies of labelled items)")
    fixed = taxonomy_examples(taxonomy) + correction_examples(corrections or [])
    gold = [labelled_example(i, taxonomy) for i in labelled]
    vocab, idf = build_vocabulary([(e.joined, len(e.title))
                                   for e in [_unlabelled_example(i) for i in unlabelled] + fixed])
    log(f"vocabulary: {len(vocab)} words and word pairs; labelled items: {len(labelled)}; "
        f"examples and corrections: {len(fixed)}")
    labels = [RELEVANT, *taxonomy.ids]

    teacher = Classifier(taxonomy)            # terms alone label the corpus first
    stacked = None
    for round_ in range(self_training + 1):
        weak = weak_examples(teacher, unlabelled)
        pos = Counter(k for e in weak for k, v in e.labels.items() if v == 1)
        log(f"round {round_}: weak positives " + ", ".join(f"{k} {pos[k]}" for k in labels))
        model = fit_head(fixed + gold, taxonomy.ids, fit_text_model(weak + fixed + gold, labels, vocab, idf))
        stacked = _fit_stackers(taxonomy, weak, fixed, labelled, labels, vocab, idf) if labelled else None
        if stacked is None:
            teacher = Classifier(taxonomy, model)
        else:
            teacher = Classifier(taxonomy, model, stacked[0], stacked[1], stacked[4])
            oof = evaluate_pairs(stacked[3], taxonomy.ids)
            log(f"round {round_}: out-of-fold macro-F1 {oof.macro_f1:.3f}, micro-F1 {oof.micro.f1:.3f}, "
                f"relevance F1 {oof.relevance_f1:.3f}")
    if stacked is None:   # no labelled items: keep the built-in calibration
        issue_stacker, relevance_stacker = teacher.issue_stacker, teacher.relevance_stacker
        passage_stacker = teacher.passage_stacker
        thresholds, out_of_fold = {i: 0.5 for i in taxonomy.ids}, []
    else:
        issue_stacker, relevance_stacker, thresholds, out_of_fold, passage_stacker = stacked
    model.meta = {"trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "issues": taxonomy.ids}
    counts = {"unlabelled": len(unlabelled), "labelled": len(labelled), "examples": len(fixed),
              "vocabulary": len(vocab)}
    return TrainResult(model, issue_stacker, relevance_stacker, thresholds, counts, out_of_fold, passage_stacker)


def save(result: TrainResult, folder: str | Path) -> Path:
    folder = Path(folder)
    result.model.save(folder, extra={
        "stackers": {"issue": result.issue_stacker.to_dict(), "relevance": result.relevance_stacker.to_dict(),
                     "passage": (result.passage_stacker or result.issue_stacker).to_dict()},
        "suggested_thresholds": result.thresholds,
        "counts": result.counts,
    })
    return folder


# ---------------------------------------------------------------- cross-validation


def near_copy_groups(items: list[dict]) -> list[int]:
    """For each item, the index of the first item of its group of near-copies (same title, or
    word 4-gram overlap at least NEAR_DUPLICATE), so a rewrite never lands in another fold."""
    shingles = [_shingles(f"{i.get('title', '')} {i['text']}") for i in items]
    titles = [i.get("title", "").strip().lower() for i in items]
    parent = list(range(len(items)))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a in range(len(items)):
        for b in range(a):
            shared = len(shingles[a] & shingles[b])
            same_title = bool(titles[a]) and titles[a] == titles[b]
            if same_title or shared / (len(shingles[a]) + len(shingles[b]) - shared or 1) >= NEAR_DUPLICATE:
                ra, rb = root(a), root(b)
                parent[max(ra, rb)] = min(ra, rb)
    return [root(n) for n in range(len(items))]


def cv_folds(items: list[dict], folds: int, draw: int = 0) -> list[int]:
    """Outer fold of each labelled item: by hash of its near-copy group's smallest id, salted apart
    from the inner folds `_fold` uses for the stackers (so those stay five-way inside each fold).
    Another `draw` salts the hash differently: a second assignment of items to folds, so a change
    can be checked on two draws (a difference that holds on one only is noise)."""
    groups = near_copy_groups(items)
    name = [str(i.get("id", i.get("title"))) for i in items]
    first: dict[int, str] = {}
    for g, n in zip(groups, name):      # the group's smallest id: independent of the items' order
        first[g] = min(first.get(g, n), n)
    key = [first[g] for g in groups]
    salt = "cv" if draw == 0 else f"cv{draw}"
    return [int(hashlib.sha256(f"{salt}:{k}".encode()).hexdigest(), 16) % folds for k in key]


@dataclass
class CrossValidation:
    folds: int
    pooled: list[tuple[dict, Classification]]      # every labelled item, scored by a model without its fold
    fold_of: list[int]
    seconds: float
    draw: int = 0


def with_thresholds(taxonomy: Taxonomy, thresholds: dict[str, float]) -> Taxonomy:
    """The taxonomy with the issue thresholds a training run suggested."""
    return taxonomy.model_copy(update={"issues": [
        issue.model_copy(update={"threshold": thresholds.get(issue.id, issue.threshold)})
        for issue in taxonomy.issues]})


def cross_validate(taxonomy: Taxonomy, unlabelled: list[dict], labelled: list[dict], folds: int = 5,
                   corrections: list[dict] | None = None, self_training: int = 1, log=print,
                   draw: int = 0) -> CrossValidation:
    """K-fold estimate of how the whole training recipe does on items it never saw.

    For each fold, everything fitted on labelled data is refitted without the fold: the text model
    (the other folds' items are training examples), the weak labels of the self-training round
    (its teacher is stacked on the other folds only), the stackers and the per-issue thresholds
    (the fold's classifier uses the thresholds its own training suggests, not the config's).
    The fold's items and their near-copies are dropped from the unlabelled items, and near-copies
    inside the labelled set share a fold. What is *not* refitted: the taxonomy's terms, weights,
    vetoes and the relevance threshold, which a person chose with sight of some of these items.
    """
    import time

    start = time.perf_counter()
    fold_of = cv_folds(labelled, folds, draw)
    pooled: list[tuple[dict, Classification]] = []
    for k in range(folds):
        test = [i for i, f in zip(labelled, fold_of) if f == k]
        rest = [i for i, f in zip(labelled, fold_of) if f != k]
        if not test:
            continue
        result = train(taxonomy, unlabelled, rest, corrections, self_training=self_training,
                       log=lambda msg: None, exclude=test)
        classifier = Classifier(with_thresholds(taxonomy, result.thresholds), result.model,
                                result.issue_stacker, result.relevance_stacker, result.passage_stacker)
        scored = [(item, classifier.classify(item.get("title", ""), item["text"])) for item in test]
        pooled += scored
        fold = evaluate_pairs(scored, taxonomy.ids)
        log(f"fold {k + 1}/{folds}: {len(test)} items, micro-F1 {fold.micro.f1:.3f}, "
            f"relevance F1 {fold.relevance_f1:.3f} ({time.perf_counter() - start:.0f} s)")
    order = {id(i): n for n, i in enumerate(labelled)}
    pooled.sort(key=lambda pair: order[id(pair[0])])
    return CrossValidation(folds, pooled, fold_of, time.perf_counter() - start, draw)


def cross_validate_draws(taxonomy: Taxonomy, unlabelled: list[dict], labelled: list[dict], folds: int,
                         draws: list[int], corrections: list[dict] | None = None, self_training: int = 1,
                         workers: int = 1, log=print) -> list[CrossValidation]:
    """`cross_validate` once per fold draw, in `workers` processes, in the order of `draws`.

    Why several draws: on 150 items one item moves a small issue's F1 by 0.05-0.2, so the figure
    of one assignment of items to folds differs from another's by as much as a change being
    judged (five draws of the dev set spread over 0.017-0.05 of macro-F1, by recipe). The mean
    over draws is the steadier estimate. Each draw trains K models on one core, so draws run
    side by side.
    """
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    def done(result: CrossValidation) -> CrossValidation:
        report = evaluate_pairs(result.pooled, taxonomy.ids)
        log(f"draw {result.draw}: macro-F1 {report.macro_f1:.3f}, micro-F1 {report.micro.f1:.3f}, "
            f"relevance F1 {report.relevance_f1:.3f} ({result.seconds:.0f} s)")
        return result

    args = [(taxonomy, unlabelled, labelled, folds, corrections, self_training, draw) for draw in draws]
    if workers <= 1 or len(draws) == 1:
        return [done(_cross_validate_quietly(*a)) for a in args]
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=min(workers, len(draws)), mp_context=context) as pool:
        return [done(r) for r in pool.map(_cross_validate_quietly, *zip(*args))]


def _cross_validate_quietly(taxonomy, unlabelled, labelled, folds, corrections, self_training, draw):
    return cross_validate(taxonomy, unlabelled, labelled, folds, corrections, self_training,
                          log=lambda msg: None, draw=draw)


def read_jsonl(path: str | Path) -> list[dict]:
    items = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not JSON: {e.msg}") from None
                if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                    raise ValueError(f"{path}:{n}: expected an object with a 'text' string")
                items.append(item)
    return items
