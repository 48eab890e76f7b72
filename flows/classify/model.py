"""The learned part of the classifier: a linear model over TF-IDF word and word-pair features
(plus, for the labels trained with one, the text's sentence embedding: the `dense` block), and an
embedding head, a small per-issue model over the title's and the passage's sentence embeddings
fitted on labelled items and corrections alone (the `head` block).

It is fitted by `flows.classify.training` (scikit-learn's logistic regression, one column per
label: `relevant` and each issue) and stored as plain arrays (`weights.npz`) plus a JSON file
with the vocabulary and the stacking weights, so loading needs only numpy, is fast, works offline
and runs no pickled code. Inference is a sparse dot product written here, so the same
tokenisation is used at training and at prediction time.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from flows.classify.embedding import Embedder

MODEL_FORMAT = 1
RELEVANT = "relevant"

_TOKEN = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)*")
_APOSTROPHE = re.compile(r"['’]s\b")


def _normalised(text: str) -> str:
    """Lower-cased, possessive "'s" blanked out (same length, so offsets still hold)."""
    return _APOSTROPHE.sub(lambda m: " " * len(m.group()), text.lower())


def tokens(text: str) -> list[str]:
    """Lower-cased words; "U.S." stays one token ("u.s"), a possessive "'s" is dropped."""
    return _TOKEN.findall(_normalised(text))


@dataclass
class TokenIds:
    """A text tokenised once: per token its start offset and vocabulary ids (-1 if unknown)."""

    starts: np.ndarray          # (T,) char offset of each token
    words: np.ndarray           # (T,) id of the token
    pairs: np.ndarray           # (T,) id of (token before, token); -1 for the first
    titled: np.ndarray          # (T,) id of the token as a title word; -1 outside the title
    length: int = 0                          # of the text
    text_vector: np.ndarray | None = None    # the whole text's embedding, when the model reads one


TITLE_MARK = "^"                # prefix of a word's title feature ("^tariffs")


def features(text: str, title_end: int = 0) -> list[str]:
    """Words and adjacent word pairs: pairs carry phrases ("trade war", "south china"); the words
    of a title (the first `title_end` characters) once more as title words, because a headline
    names what an item is about while the body also names its setting."""
    toks = tokens(text)
    out = toks + [f"{a} {b}" for a, b in zip(toks, toks[1:])]
    if title_end:
        out += [TITLE_MARK + m.group() for m in _TOKEN.finditer(_normalised(text[:title_end]))]
    return out


@dataclass
class Stacker:
    """Logistic weights that turn evidence features into a calibrated probability."""

    names: list[str]
    weights: list[float]
    bias: float

    def prob(self, values: list[float]) -> float:
        z = self.bias + sum(w * v for w, v in zip(self.weights, values))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_dict(self) -> dict:
        return {"names": self.names, "weights": [round(w, 6) for w in self.weights],
                "bias": round(self.bias, 6)}

    @classmethod
    def from_dict(cls, data: dict) -> "Stacker":
        return cls(list(data["names"]), [float(w) for w in data["weights"]], float(data["bias"]))


@dataclass
class LinearModel:
    labels: list[str]
    vocab: dict[str, int]
    idf: np.ndarray                 # (V,) float32
    coef: np.ndarray                # (V, L) float32
    intercept: np.ndarray           # (L,) float32
    meta: dict = field(default_factory=dict)
    # The semantic part: weights over the text's sentence embedding (D, L), scaled like the
    # TF-IDF block at training time; None for a model without one.
    dense: np.ndarray | None = None
    embedder: "Embedder | None" = None
    dense_scale: float = 1.0
    # The embedding head: logistic weights over [title embedding, passage embedding] (2D, H) for
    # the issues in `head_labels`, learned from labelled items and corrections only (see
    # `training.fit_head`), so it reads the annotators' sense of an issue rather than the terms'.
    head_labels: list[str] = field(default_factory=list)
    head_coef: np.ndarray | None = None
    head_intercept: np.ndarray | None = None

    def head_logits(self, title_vector: np.ndarray, passage_vector: np.ndarray) -> dict[str, float]:
        """The embedding head's logit per issue it knows, for a passage read with (the lead) or
        without (a zero vector) its item's title."""
        if self.head_coef is None:
            return {}
        z = np.concatenate([title_vector, passage_vector]) @ self.head_coef + self.head_intercept
        return dict(zip(self.head_labels, z.tolist()))

    def _dense_logits(self, vector: np.ndarray) -> np.ndarray:
        return (self.dense_scale * vector) @ self.dense

    def vector(self, text: str, title_end: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Sparse TF-IDF vector (sublinear tf, L2-normalised): feature ids and values."""
        counts: dict[int, int] = {}
        vocab = self.vocab
        for f in features(text, title_end):
            j = vocab.get(f)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        vals = (1.0 + np.log(tf)) * self.idf[ids]
        norm = float(np.sqrt(np.dot(vals, vals)))
        return ids, vals / norm if norm else vals

    def token_ids(self, text: str, title_end: int = 0) -> TokenIds | None:
        """Tokenise a whole text once, so any span's vector is a slice (None if lower-casing
        changed the text's length, when offsets would not hold). Words starting before
        `title_end` also get their title feature. The whole text is embedded too, for the
        relevance column (the only one with embedding weights: see `fit_text_model`)."""
        norm = _normalised(text)
        if len(norm) != len(text):
            return None
        vocab = self.vocab
        starts, words, pairs, titled = [], [], [], []
        prev = None
        for m in _TOKEN.finditer(norm):
            tok = m.group()
            starts.append(m.start())
            words.append(vocab.get(tok, -1))
            pairs.append(vocab.get(f"{prev} {tok}", -1) if prev is not None else -1)
            titled.append(vocab.get(TITLE_MARK + tok, -1) if m.start() < title_end else -1)
            prev = tok
        ids = TokenIds(np.array(starts, dtype=np.int64), np.array(words, dtype=np.int64),
                       np.array(pairs, dtype=np.int64), np.array(titled, dtype=np.int64), len(text))
        if self.dense is not None:
            ids.text_vector = self.embedder.embed(text)
        return ids

    def span_logits(self, ids: TokenIds, spans: list[tuple[int, int]]) -> np.ndarray:
        """Logits of the text made of these character spans of a tokenised text (pairs that
        cross from one span to the next are left out). The embedding counts for the whole text
        only: relevance, the one column that reads it, is judged on the whole text."""
        base = self.intercept.copy()
        if ids.text_vector is not None and spans == [(0, ids.length)]:
            base += self._dense_logits(ids.text_vector)
        chunks = []
        for start, end in spans:
            a = int(np.searchsorted(ids.starts, start, "left"))
            b = int(np.searchsorted(ids.starts, end, "left"))
            if b > a:
                chunks.append(ids.words[a:b])
                chunks.append(ids.pairs[a + 1:b])
                chunks.append(ids.titled[a:b])
        if not chunks:
            return base
        feats = np.concatenate(chunks)
        feats = feats[feats >= 0]
        if not len(feats):
            return base
        uniq, counts = np.unique(feats, return_counts=True)
        vals = (1.0 + np.log(counts.astype(np.float32))) * self.idf[uniq]
        norm = float(np.sqrt(np.dot(vals, vals)))
        if norm:
            vals /= norm
        return vals @ self.coef[uniq] + base

    def logits(self, text: str) -> np.ndarray:
        base = self.intercept.copy()
        if self.dense is not None:
            base += self._dense_logits(self.embedder.embed(text))
        ids, vals = self.vector(text)
        if not len(ids):
            return base
        return vals @ self.coef[ids] + base

    def label_index(self, label: str) -> int | None:
        try:
            return self.labels.index(label)
        except ValueError:
            return None

    def top_features(self, text: str, label: str, n: int = 4) -> list[str]:
        """The words of `text` that pushed hardest towards `label` (for evidence)."""
        k = self.label_index(label)
        if k is None:
            return []
        scored = []
        for f in set(features(text)):
            j = self.vocab.get(f)
            if j is not None:
                w = float(self.coef[j, k] * self.idf[j])
                if w > 0:
                    scored.append((w, f))
        scored.sort(reverse=True)
        return [f for _, f in scored[:n]]

    def save(self, folder: str | Path, extra: dict | None = None) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        words = sorted(self.vocab, key=self.vocab.get)
        arrays = {"idf": self.idf.astype(np.float16), "coef": self.coef.astype(np.float16),
                  "intercept": self.intercept.astype(np.float32)}
        meta = {"format": MODEL_FORMAT, "labels": self.labels, "vocab": words, **self.meta, **(extra or {})}
        if self.dense is not None or self.head_coef is not None:
            meta["embedding"] = {"name": self.embedder.name, "scale": self.dense_scale}
        if self.dense is not None:
            arrays["dense"] = self.dense.astype(np.float32)
        if self.head_coef is not None:
            arrays["head_coef"] = self.head_coef.astype(np.float32)
            arrays["head_intercept"] = self.head_intercept.astype(np.float32)
            meta["head_labels"] = self.head_labels
        np.savez_compressed(folder / "weights.npz", **arrays)
        (folder / "model.json").write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")),
                                           encoding="utf-8")


class ModelError(Exception):
    """A model folder that cannot be used (named in the message)."""


def load_model(folder: str | Path) -> tuple[LinearModel, dict]:
    """Load a model folder written by `LinearModel.save`; returns the model and its metadata."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        arrays = np.load(folder / "weights.npz")
        idf = arrays["idf"].astype(np.float32)
        coef = arrays["coef"].astype(np.float32)
        intercept = arrays["intercept"].astype(np.float32)
        dense = arrays["dense"].astype(np.float32) if "dense" in arrays.files else None
        head_coef = arrays["head_coef"].astype(np.float32) if "head_coef" in arrays.files else None
        head_intercept = arrays["head_intercept"].astype(np.float32) if "head_coef" in arrays.files else None
    except (OSError, ValueError, KeyError) as e:
        raise ModelError(f"{folder}: not a classifier model: {e}") from None
    if meta.get("format") != MODEL_FORMAT:
        raise ModelError(f"{folder}: model format {meta.get('format')!r}, expected {MODEL_FORMAT}")
    vocab = {w: i for i, w in enumerate(meta.pop("vocab"))}
    labels = meta.pop("labels")
    if coef.shape != (len(vocab), len(labels)) or idf.shape != (len(vocab),):
        raise ModelError(f"{folder}: weights do not match the vocabulary")
    embedding = meta.pop("embedding", None)
    head_labels = meta.pop("head_labels", [])
    if (dense is None and head_coef is None) != (embedding is None):
        raise ModelError(f"{folder}: embedding weights and their description do not go together")
    embedder, scale = None, 1.0
    if embedding is not None:
        from flows.classify.embedding import EmbeddingError, load_embedder

        try:
            embedder = load_embedder()
        except EmbeddingError as e:
            raise ModelError(f"{folder}: {e}") from None
        if (embedding.get("name") != embedder.name
                or (dense is not None and dense.shape != (embedder.dim, len(labels)))
                or (head_coef is not None and head_coef.shape != (2 * embedder.dim, len(head_labels)))):
            raise ModelError(f"{folder}: trained with embeddings {embedding.get('name')!r}, "
                             f"this installation has {embedder.name!r}")
        scale = float(embedding.get("scale", 1.0))
    if head_coef is not None and head_intercept.shape != (len(head_labels),):
        raise ModelError(f"{folder}: embedding head weights do not match its labels")
    return LinearModel(labels, vocab, idf, coef, intercept, meta, dense, embedder, scale,
                       head_labels, head_coef, head_intercept), meta
