"""The feature vector of one *view* of an item: a headline and a lead-sized passage.

The labelled items are NYT headlines with their lead paragraph, so that is the unit the model
learns from and the unit it reads: a news lead is one view; a long article is read as its title
with each passage in turn (`text.passages`). A view's vector joins four blocks:

1. word unigrams and bigrams, TF-IDF (sublinear, L2-normalised), vocabulary and IDF learned at
   training time and stored with the model;
2. WordLlama sentence embeddings (`embedding.py`) of the title, the passage and both together;
3. the taxonomy's term evidence per issue (`terms.py`): log weight in the view, in the title, and
   whether every cue stood in a list of topics; so editing a term moves the model;
4. the relevance cues: log counts of US, China and shared-stake names, and whether both sides are
   named.

Cross-validated on the non-frozen part of the 1,650 labelled items (see docs/classifier.md):
words alone macro-F1 0.60, words + embeddings + terms 0.75.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from flows.classify.embedding import Embedder
from flows.classify.terms import IssueEvidence, SentenceTerms, issue_evidence
from flows.classify.text import PhraseMatcher, Sentence
from flows.config import Taxonomy

SIDES = ("us", "china", "stake")


@dataclass
class View:
    """A headline and one passage of the body, with the term scan of their sentences."""

    title: str
    passage: str
    sentences: list[Sentence]  # the title's and the passage's, with offsets into the item
    scanned: list[SentenceTerms]
    sides: dict[str, float]  # weighted counts of US / China / shared-stake cues

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.passage}" if self.title else self.passage

    def evidence(self, issue_ids: list[str]) -> dict[str, IssueEvidence]:
        return issue_evidence(self.scanned, issue_ids)


def vectorizer(vocabulary: dict[str, int] | None = None, idf: np.ndarray | None = None) -> TfidfVectorizer:
    """The word block's vectorizer: a new one to fit, or the stored vocabulary and IDF."""
    v = TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=2,
        sublinear_tf=True,
        strip_accents="unicode",
        dtype=np.float32,
        vocabulary=vocabulary,
    )
    if idf is not None:
        v.idf_ = idf
    return v


def side_matcher(taxonomy: Taxonomy) -> PhraseMatcher:
    rel = taxonomy.relevance
    return PhraseMatcher(
        [(t, "us") for t in rel.us_terms]
        + [(t, "china") for t in rel.china_terms]
        + [(t, "stake") for t in rel.shared_stakes]
    )


def term_block(views: list[View], issue_ids: list[str]) -> np.ndarray:
    """Block 3 and 4: per issue (in `issue_ids` order) three term features, then four side cues."""
    out = np.zeros((len(views), 3 * len(issue_ids) + 4), dtype=np.float32)
    for n, view in enumerate(views):
        evidence = view.evidence(issue_ids)
        for k, issue_id in enumerate(issue_ids):
            ev = evidence[issue_id]
            out[n, 3 * k : 3 * k + 3] = (np.log1p(ev.raw), np.log1p(ev.title_raw), float(ev.listy_only and ev.raw > 0))
        s = view.sides
        out[n, -4:] = (
            np.log1p(s["us"]),
            np.log1p(s["china"]),
            np.log1p(s["stake"]),
            float(s["us"] > 0 and s["china"] > 0),
        )
    return out


def embedding_block(embedder: Embedder, views: list[View]) -> np.ndarray:
    """Block 2: the title's, the passage's and the whole view's embeddings side by side."""
    titles = sorted({v.title for v in views})
    title_vectors = dict(zip(titles, embedder.embed_many(titles)))
    rest = embedder.embed_many([v.passage for v in views] + [v.text for v in views])
    n = len(views)
    return np.hstack(
        [np.stack([title_vectors[v.title] for v in views]) if views else rest[:0], rest[:n], rest[n:]]
    ).astype(np.float32)


def matrix(views: list[View], words: TfidfVectorizer, embedder: Embedder, issue_ids: list[str]) -> sp.csr_matrix:
    """The feature matrix of some views, one row each (the layout the model's weights expect)."""
    if not views:
        width = len(words.vocabulary_) + 3 * embedder.dim + 3 * len(issue_ids) + 4
        return sp.csr_matrix((0, width), dtype=np.float32)
    return sp.hstack(
        [
            words.transform([v.text for v in views]),
            sp.csr_matrix(embedding_block(embedder, views)),
            sp.csr_matrix(term_block(views, issue_ids)),
        ],
        format="csr",
        dtype=np.float32,
    )
