"""The trained model on disk: one logistic column per label over `features.matrix`, with thresholds.

Written by `uschina-digest train` as two files in one folder: `weights.npz` (the word vocabulary's
IDF, the coefficient matrix and intercepts) and `model.json` (labels, thresholds, the vocabulary,
the training data's file names, sizes and SHA-256, and the figures measured when it was fitted).
No pickle: a model folder is data, readable by any version of the code that knows its format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

RELEVANT = "relevant"
FORMAT = 2


class ModelError(Exception):
    """A model folder that cannot be used (named in the message)."""


@dataclass
class LinearModel:
    labels: list[str]  # RELEVANT first, then the issues it was trained for
    feature_issues: list[str]  # the issues of the term block, in its order
    vocabulary: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray  # (labels, features)
    intercept: np.ndarray  # (labels,)
    thresholds: dict[str, float]
    meta: dict = field(default_factory=dict)

    def probabilities(self, x: sp.csr_matrix) -> np.ndarray:
        """P(label) for each row of a feature matrix: (rows, labels)."""
        z = np.asarray(x @ self.coef.T, dtype=np.float64) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def word_weights(self, label: str) -> np.ndarray:
        """The coefficients of the word block for one label (evidence: which words told)."""
        return self.coef[self.labels.index(label), : len(self.vocabulary)]

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            folder / "weights.npz",
            idf=self.idf.astype(np.float32),
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
        )
        doc = {
            "format": FORMAT,
            "labels": self.labels,
            "thresholds": self.thresholds,
            "feature_issues": self.feature_issues,
            **self.meta,
            "vocabulary": sorted(self.vocabulary, key=self.vocabulary.get),
        }
        (folder / "model.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return folder


def load_model(folder: str | Path) -> LinearModel:
    """The model in a folder written by `LinearModel.save`; an unusable folder is a ModelError."""
    folder = Path(folder)
    try:
        doc = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        with np.load(folder / "weights.npz") as w:
            idf, coef, intercept = w["idf"], w["coef"], w["intercept"]
    except (OSError, ValueError, KeyError) as e:
        raise ModelError(f"{folder}: cannot read the classifier model ({e}); run `uschina-digest train`") from None
    if doc.get("format") != FORMAT:
        raise ModelError(
            f"{folder}: model format {doc.get('format')!r}, this version reads {FORMAT}; "
            "run `uschina-digest train` again"
        )
    vocabulary = {w: n for n, w in enumerate(doc["vocabulary"])}
    labels = doc["labels"]
    if coef.shape[0] != len(labels) or len(idf) != len(vocabulary):
        raise ModelError(f"{folder}: weights.npz does not match model.json; run `uschina-digest train` again")
    meta = {k: v for k, v in doc.items() if k not in ("format", "labels", "feature_issues", "thresholds", "vocabulary")}
    return LinearModel(labels, doc["feature_issues"], vocabulary, idf, coef, intercept, doc["thresholds"], meta)
