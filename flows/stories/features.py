"""What an item's text says, reduced to what story matching compares.

A `Fingerprint` is computed once per item and stored beside it, so matching a new item never
re-reads or re-parses the texts it is compared with. Terms are Snowball stems weighted by
TF-IDF; the document frequencies ship with the package (`idf.tsv.gz`, built from a news corpus by
`python -m flows.stories.idf`), so weights are the same in every process and need no fitting.
"""

from __future__ import annotations

import gzip
import marshal
import math
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources

import numpy as np
import Stemmer

from flows.stories.minhash import shingle_hashes

# Function words: they say nothing about which event a text reports.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours said says say mr ms mrs new one two year years may might us""".split()
)
# Titles are short: keep every word but the glue, so "The Other Iran" still has two terms.
TITLE_STOPWORDS = frozenset("a an the of in on at to for and or with by from as is are be its".split())

WEEKDAYS = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b")
TITLE_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")
PART = re.compile(r"\bpart ([ivx]+|\d+)\b")
_WORD = re.compile(r"[^\W_]+(?:['’](?!s\b)[^\W_]+)*")  # possessive 's is not part of the word
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?”\"])\s+|\n+")

SALIENT_TERMS = 8  # top-weighted terms per item in the rewrite index
TITLE_INDEX_TERMS = 4  # plus this many of its rarest title terms
TITLE_TERM_MIN_IDF = 3.5  # a title term in more than ~3 % of documents is too common to index
LONG_TEXT_WORDS = 150  # texts this long are compared sentence by sentence
MIN_SENTENCE_WORDS = 6
FORMAT = 2  # version of Fingerprint.to_bytes

_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    # PyStemmer objects are not safe to share between threads.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


@dataclass(frozen=True)
class IdfTable:
    n_docs: int
    weights: dict[str, float]  # term -> idf, precomputed
    unseen: float  # idf of a term the corpus never had

    def idf(self, term: str) -> float:
        return self.weights.get(term, self.unseen)


@lru_cache(maxsize=1)
def idf_table() -> IdfTable:
    """The shipped document frequencies (loaded once per process)."""
    raw = resources.files("flows.stories").joinpath("idf.tsv.gz").read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    n_docs = int(lines[0].split("\t")[1])
    weights = {}
    for line in lines[1:]:
        term, count = line.split("\t")
        weights[term] = math.log((n_docs + 1) / (int(count) + 1)) + 1.0
    return IdfTable(n_docs, weights, math.log(n_docs + 1) + 1.0)


def words(text: str) -> list[str]:
    """Case- and accent-folded word tokens, as every comparison here sees them."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


class _StemCache(dict):
    """word -> stem ("" for a stop word); filled on first sight, so a word is stemmed once."""

    def __init__(self, stopwords: frozenset[str]):
        super().__init__()
        self.stopwords = stopwords

    def __missing__(self, word: str) -> str:
        stem = "" if len(word) < 2 or word.isdigit() or word in self.stopwords else _stemmer().stemWord(word)
        if len(self) < _STEM_CACHE_LIMIT:
            self[word] = stem
        return stem


_STEM_CACHE_LIMIT = 200_000
_STEM_CACHES: dict[frozenset[str], _StemCache] = {}


def stems(tokens: list[str], stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """Content-word stems of tokens: `suppressing` and `suppress` are one term."""
    cache = _STEM_CACHES.get(stopwords)
    if cache is None:
        cache = _STEM_CACHES[stopwords] = _StemCache(stopwords)
    return [stem for stem in map(cache.__getitem__, tokens) if stem]


def terms(text: str, stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    return stems(words(text), stopwords)


def tfidf(counts: dict[str, int]) -> dict[str, float]:
    """L2-normalised sublinear TF-IDF weights of term counts."""
    if not counts:
        return {}
    table = idf_table()
    known, unseen, log = table.weights, table.unseen, math.log
    weights = {t: (1.0 + log(n)) * known.get(t, unseen) if n > 1 else known.get(t, unseen) for t, n in counts.items()}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {t: w / norm for t, w in weights.items()}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    # The hottest loop of story matching (every sentence pair of every candidate): a plain loop
    # over the shorter vector is twice as fast as sum() over a generator, with the same sum.
    if len(a) > len(b):
        a, b = b, a
    total = 0.0
    for term in a:
        if term in b:
            total += a[term] * b[term]
    return total


def title_marks(title: str) -> frozenset[str]:
    """Weekdays, numbers and part numbers named in a title.

    Two items whose titles name different ones ("Day 1" / "Day 2", "Your Tuesday Briefing" /
    "Your Friday Briefing") are different installments, however alike their text.
    """
    low = unicodedata.normalize("NFKC", title).casefold()
    return (
        frozenset(WEEKDAYS.findall(low))
        | frozenset(TITLE_NUMBER.findall(low))
        | frozenset("part " + p for p in PART.findall(low))
    )


@dataclass
class Fingerprint:
    """Everything story matching needs to know about one item's text.

    Only counts and stems are stored; TF-IDF weights are derived on first use, so a stored
    fingerprint is small and always weighted with the shipped IDF table.
    """

    title_terms: frozenset[str]  # title stems (only glue words dropped)
    marks: frozenset[str]  # see title_marks
    body_words: int
    shingles: np.ndarray  # sorted unique uint32 hashes of body word 3-grams
    counts: dict[str, int]  # content-stem counts of title + body
    sentence_terms: list[list[str]] = field(default_factory=list)  # per sentence, long texts only

    @cached_property
    def vector(self) -> dict[str, float]:
        return tfidf(self.counts)

    @cached_property
    def sentence_vectors(self) -> list[dict[str, float]]:
        return [tfidf(Counter(s)) for s in self.sentence_terms]

    @cached_property
    def salient(self) -> tuple[str, ...]:
        """What the rewrite index files the item under: its top-weighted terms, plus its rarer
        title terms (a truncated copy shares its title with the original, not always its top
        terms; common title words such as "china" would make every item a candidate)."""
        vector = self.vector
        # sorted() is stable: equal weights keep the text's order, so the result is deterministic.
        top = sorted(vector, key=vector.__getitem__, reverse=True)[:SALIENT_TERMS]
        idf = idf_table().idf
        rare = sorted((t for t in sorted(self.title_terms) if idf(t) >= TITLE_TERM_MIN_IDF), key=idf, reverse=True)[
            :TITLE_INDEX_TERMS
        ]
        return tuple(dict.fromkeys(top + rare))

    def to_bytes(self) -> bytes:
        """The stored form: marshal of plain values, version-tagged. (zlib would save a quarter of
        the bytes – the shingle hashes do not compress – at a quarter of the fingerprinting time.)"""
        payload = (
            FORMAT,
            sorted(self.title_terms),
            sorted(self.marks),
            self.body_words,
            self.shingles.astype("<u4").tobytes(),
            self.counts,
            self.sentence_terms,
        )
        return marshal.dumps(payload)

    @classmethod
    def from_bytes(cls, blob: bytes) -> "Fingerprint":
        version, title_terms, marks, body_words, shingles, counts, sentence_terms = marshal.loads(blob)
        if version != FORMAT:
            raise ValueError(f"fingerprint format {version!r}, expected {FORMAT}")
        return cls(
            title_terms=frozenset(title_terms),
            marks=frozenset(marks),
            body_words=body_words,
            shingles=np.frombuffer(shingles, dtype="<u4").astype(np.uint32),
            counts=counts,
            sentence_terms=sentence_terms,
        )


def fingerprint(title: str, text: str) -> Fingerprint:
    """Reduce an item to its fingerprint (pure: same input, same fingerprint)."""
    title = title or ""
    title_words = words(title)
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    body = _WORD.findall(folded)
    counts = Counter(stems(title_words))
    sentence_terms: list[list[str]] = []
    if len(body) >= LONG_TEXT_WORDS:
        for segment in _SENTENCE_SPLIT.split(folded):
            tokens = _WORD.findall(segment)
            segment_terms = stems(tokens)
            counts.update(segment_terms)
            if len(tokens) >= MIN_SENTENCE_WORDS:
                sentence_terms.append(segment_terms)
    else:
        counts.update(stems(body))
    return Fingerprint(
        title_terms=frozenset(stems(title_words, TITLE_STOPWORDS)),
        marks=title_marks(title),
        body_words=len(body),
        shingles=shingle_hashes(body),
        counts=dict(counts),
        sentence_terms=[t for t in sentence_terms if t],
    )
