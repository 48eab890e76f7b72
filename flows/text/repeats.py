"""Drop passages an article repeats, verbatim or in paraphrase.

Copy-pasted and content-farm articles often say the same thing twice: a paragraph pasted again,
or a closing "recap" that rewords sentences from above ("However, it is worth noting that China's
refusal …" restating "Despite the desire for stability, China refused …"). A reader should see
it once.

A paragraph that repeats a kept one word for word (same content words in the same order) is
dropped whatever its length. Otherwise a paragraph is dropped when both hold, measured against
the paragraphs kept before it:

* at least half of its sentences restate an earlier sentence: their TF-IDF vectors of
  content-word stems (the weighting story matching uses) have cosine ≥ `RESTATES` – reworded
  sentences keep most of their content words;
* it brings almost nothing new: at least `ALREADY_SAID` of its content (IDF-weighted, so a new
  name or number counts more than a new "said") was already in the text.

Both are needed. Sentences of a real article often echo an earlier one (the second mention of a
product, a follow-up study), but such a paragraph also adds names, numbers and claims; a pasted
or reworded repeat adds none. On the 167 real article bodies of the extraction benchmark the rule
drops mostly duplicated lines and "Summary" recaps; on seed 001 it drops the three paragraphs
that restate its opening.
"""

from __future__ import annotations

from collections import Counter

from flows.classify.text import sentences
from flows.stories.features import cosine, idf_table, terms, tfidf

RESTATES = 0.5
ALREADY_SAID = 0.85
MIN_PARAGRAPH_WORDS = 12  # shorter ones (list lines, captions) are only dropped when verbatim
MIN_VERBATIM_WORDS = 4
MIN_SENTENCE_WORDS = 5


def split_sentences(paragraph: str) -> list[str]:
    """The paragraph's sentences, by the rule the classifier's evidence uses."""
    return [s.text for s in sentences("", paragraph)]


def _sentence_vectors(paragraph: str) -> list[dict[str, float]]:
    return [
        v
        for v in (tfidf(Counter(terms(s))) for s in split_sentences(paragraph) if len(s.split()) >= MIN_SENTENCE_WORDS)
        if v
    ]


def drop_repeated_passages(paragraphs: list[str]) -> list[str]:
    """Keep the first telling of each passage; drop later paragraphs that only restate it."""
    table = idf_table()
    idf, unseen = table.weights.get, table.unseen
    kept: list[str] = []
    earlier: list[dict[str, float]] = []  # sentence vectors of kept paragraphs, computed when first needed
    by_term: dict[str, list[int]] = {}  # term -> positions in `earlier` of the sentences using it
    vectorized = 0  # how many kept paragraphs `earlier` covers
    said: set[str] = set()  # content terms of kept paragraphs
    verbatim: set[tuple[str, ...]] = set()  # content-term sequences of kept paragraphs
    for paragraph in paragraphs:
        content = terms(paragraph)
        if len(content) >= MIN_VERBATIM_WORDS and tuple(content) in verbatim:
            continue
        # The cheap test first: only a paragraph whose content was mostly said already can be a
        # restatement, and only then are sentences aligned (most articles never get that far).
        if kept and len(paragraph.split()) >= MIN_PARAGRAPH_WORDS:
            weights = [idf(t, unseen) for t in content]
            old = sum([w for t, w in zip(content, weights) if t in said])
            if old >= ALREADY_SAID * sum(weights) and (vectors := _sentence_vectors(paragraph)):
                for done in kept[vectorized:]:
                    for vector in _sentence_vectors(done):
                        for term in vector:
                            by_term.setdefault(term, []).append(len(earlier))
                        earlier.append(vector)
                vectorized = len(kept)
                if _mostly_restated(vectors, earlier, by_term):
                    continue
        kept.append(paragraph)
        said.update(content)
        verbatim.add(tuple(content))
    return kept


def _mostly_restated(
    vectors: list[dict[str, float]], earlier: list[dict[str, float]], by_term: dict[str, list[int]]
) -> bool:
    """Whether at least half of the sentences restate an earlier one (stops once it is decided)."""
    needed = (len(vectors) + 1) // 2
    restated = 0
    for i, vector in enumerate(vectors):
        if _restates(vector, earlier, by_term):
            restated += 1
            if restated >= needed:
                return True
        elif restated + len(vectors) - i - 1 < needed:  # even if every remaining one does
            return False
    return False


def _restates(vector: dict[str, float], earlier: list[dict[str, float]], by_term: dict[str, list[int]]) -> bool:
    """Whether an earlier sentence is close to this one, comparing only sentences that can be.

    Vectors are unit length, so a sentence sharing none of this one's heaviest terms scores at
    most the norm of the rest (Cauchy-Schwarz). Taking heaviest terms until that norm is under
    `RESTATES`, only sentences sharing one of them can match: the answer is exact, and a long
    text is not compared sentence by sentence with all of itself.
    """
    rest = sum(w * w for w in vector.values())
    sharing: set[int] = set()
    for term in sorted(vector, key=vector.__getitem__, reverse=True):
        if rest < RESTATES * RESTATES:
            break
        sharing.update(by_term.get(term, ()))
        rest -= vector[term] * vector[term]
    return any(cosine(vector, earlier[i]) >= RESTATES for i in sharing)
