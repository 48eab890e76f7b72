"""Are two items the same story? Copies, re-filed versions and paraphrased rewrites say yes.

The verdict is a short chain of tests, each aimed at one way a story is repeated, each guarded
against the way unrelated items look alike:

1. **Conflicting installments** – titles that name different weekdays, numbers or parts
   ("Day 1"/"Day 2", "Your Tuesday Briefing"/"Your Friday Briefing") are different items, however
   alike their boilerplate text. Checked first.
2. **Copies** – most of the shorter body's word 3-grams appear in the other (a wire copy, a
   truncated feed excerpt, a light edit). Needs a real body (≥ 25 words), published within
   `COPY_WINDOW_HOURS` (a month: the same text run again much later is a new appearance, and an
   unbounded window would make popular texts ever more expensive to match).
3. **Stubs** – when one body is a stub ("BEIJING", "Good morning."), the text proves nothing and
   the titles must agree: every title word of one is in the other, published within two days.
4. **Re-filed versions** – a new headline over a reworked lead: title + body TF-IDF cosine
   ≥ `REFILE_COSINE`, published within `REWRITE_WINDOW_HOURS`.
5. **Rewrites of long articles** – a paraphrase shares few word sequences, but its sentences
   still line up one by one with the original's (same facts, reworded): at least
   `ALIGNED_SHARE` of the shorter text's sentences have a counterpart with cosine
   ≥ `SENTENCE_MATCH`, and the texts as a whole are similar. An unrelated story on the same issue
   shares vocabulary but not sentence-by-sentence content.

Tests 4 and 5 only compare items from different feeds. Within one feed, look-alikes that are
not copies are a blog's series of posts, a post and its translation, or posts written from one
template – not one story retold (a feed re-publishing a story keeps its URL or guid, and an
edited copy is still a copy). Items from the same feed match only as copies or stubs.

The thresholds were chosen on the labelled pair set in `tests/stories/pairs.jsonl`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.stories.features import Fingerprint, cosine
from flows.stories.minhash import containment

COPY_WINDOW_HOURS = 30 * 24.0
REWRITE_WINDOW_HOURS = 72.0
STUB_WINDOW_HOURS = 48.0
MIN_BODY_WORDS = 25
STUB_BODY_WORDS = 3
COPY_CONTAINMENT = 0.8
REFILE_COSINE = 0.6
SENTENCE_MATCH = 0.35
ALIGNED_SHARE = 0.2
ALIGNED_MIN_COSINE = 0.3
MIN_SENTENCES = 3


@dataclass(frozen=True)
class Verdict:
    same: bool
    score: float  # strength of the evidence (for choosing among several matching stories)
    reason: str  # which test decided


def sentence_alignment(a: list[dict[str, float]], b: list[dict[str, float]]) -> float:
    """Share of the shorter text's sentences that have a close counterpart in the other text."""
    if len(a) < MIN_SENTENCES or len(b) < MIN_SENTENCES:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    matched = sum(1 for s in a if any(cosine(s, t) >= SENTENCE_MATCH for t in b))
    return matched / len(a)


def same_story(a: Fingerprint, b: Fingerprint, hours_apart: float, same_feed: bool = False) -> Verdict:
    """The verdict on one pair; `hours_apart` is the gap between their publication times,
    `same_feed` whether both came from one feed."""
    hours_apart = abs(hours_apart)
    if a.marks and b.marks and a.marks != b.marks:
        return Verdict(False, 0.0, "conflicting-installments")

    shortest_body = min(a.body_words, b.body_words)
    if shortest_body >= MIN_BODY_WORDS and hours_apart <= COPY_WINDOW_HOURS:
        contained = containment(a.shingles, b.shingles)
        if contained >= COPY_CONTAINMENT:
            return Verdict(True, 1.0 + contained, "copy")
    elif shortest_body < MIN_BODY_WORDS:
        if hours_apart > STUB_WINDOW_HOURS:
            return Verdict(False, 0.0, "stub-too-far")
        small, large = sorted((a.title_terms, b.title_terms), key=len)
        titles_agree = len(small) >= 2 and small <= large
        body_agrees = shortest_body <= STUB_BODY_WORDS or containment(a.shingles, b.shingles) >= COPY_CONTAINMENT
        if titles_agree and body_agrees:
            return Verdict(True, 1.0, "stub-same-title")
        return Verdict(False, 0.0, "stub-different-title")

    if same_feed:
        return Verdict(False, 0.0, "same-feed")
    if hours_apart > REWRITE_WINDOW_HOURS:
        return Verdict(False, 0.0, "too-far-apart")
    similarity = cosine(a.vector, b.vector)
    if similarity >= REFILE_COSINE:
        return Verdict(True, similarity, "refiled")
    if similarity >= ALIGNED_MIN_COSINE and a.sentence_terms and b.sentence_terms:
        aligned = sentence_alignment(a.sentence_vectors, b.sentence_vectors)
        if aligned >= ALIGNED_SHARE:
            return Verdict(True, similarity + aligned, "rewrite")
    return Verdict(False, similarity, "different")
