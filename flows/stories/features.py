"""What an item's text says, reduced to what story matching compares.

A `Fingerprint` is computed once per item and stored beside it, so matching a new item never
re-reads or re-parses the texts it is compared with. Terms are Snowball stems weighted by
TF-IDF; the document frequencies ship with the package (`idf.tsv.gz`, built from a news corpus by
`python -m flows.stories.idf`), so weights are the same in every process and need no fitting.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import re
import threading
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
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
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?”\"])\s+|\n+")

SALIENT_TERMS = 8          # top-weighted terms per item in the rewrite index
TITLE_INDEX_TERMS = 4      # plus this many of its rarest title terms
TITLE_TERM_MIN_IDF = 3.5   # a title term in more than ~3 % of documents is too common to index
LONG_TEXT_WORDS = 150      # texts this long are compared sentence by sentence
MIN_SENTENCE_WORDS = 6

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
    df: dict[str, int]

    def idf(self, term: str) -> float:
        return math.log((self.n_docs + 1) / (self.df.get(term, 0) + 1)) + 1.0


@lru_cache(maxsize=1)
def idf_table() -> IdfTable:
    """The shipped document frequencies (loaded once per process)."""
    raw = resources.files("flows.stories").joinpath("idf.tsv.gz").read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    n_docs = int(lines[0].split("\t")[1])
    df = {}
    for line in lines[1:]:
        term, count = line.split("\t")
        df[term] = int(count)
    return IdfTable(n_docs, df)


def words(text: str) -> list[str]:
    """Case- and accent-folded word tokens, as every comparison here sees them."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def terms(text: str, stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """Content-word stems: `suppressing` and `suppress` are one term."""
    return stems(words(text), stopwords)


def stems(tokens: list[str], stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    return _stemmer().stemWords([w for w in tokens if len(w) > 1 and not w.isdigit() and w not in stopwords])


def tfidf(term_list: list[str]) -> dict[str, float]:
    """L2-normalised sublinear TF-IDF weights."""
    if not term_list:
        return {}
    table = idf_table()
    weights = {t: (1.0 + math.log(n)) * table.idf(t) for t, n in Counter(term_list).items()}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {t: w / norm for t, w in weights.items()}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_SPLIT.split(text) if len(s.split()) >= MIN_SENTENCE_WORDS]


def title_marks(title: str) -> frozenset[str]:
    """Weekdays, numbers and part numbers named in a title.

    Two items whose titles name different ones ("Day 1" / "Day 2", "Your Tuesday Briefing" /
    "Your Friday Briefing") are different installments, however alike their text.
    """
    low = unicodedata.normalize("NFKC", title).casefold()
    return frozenset(WEEKDAYS.findall(low)) | frozenset(TITLE_NUMBER.findall(low)) | frozenset(
        "part " + p for p in PART.findall(low)
    )


@dataclass
class Fingerprint:
    """Everything story matching needs to know about one item's text."""

    title_terms: frozenset[str]
    marks: frozenset[str]
    body_words: int
    shingles: np.ndarray                      # sorted unique uint32 hashes of body word 3-grams
    vector: dict[str, float]                  # TF-IDF of title + body
    sentence_vectors: list[dict[str, float]]  # only for long texts
    salient: tuple[str, ...]                  # top terms and title terms, for the index

    def to_bytes(self) -> bytes:
        payload = {
            "t": sorted(self.title_terms),
            "m": sorted(self.marks),
            "w": self.body_words,
            "h": base64.b64encode(self.shingles.astype("<u4").tobytes()).decode("ascii"),
            "v": _pack(self.vector),
            "s": [_pack(v) for v in self.sentence_vectors],
            "k": list(self.salient),
        }
        return zlib.compress(json.dumps(payload, separators=(",", ":")).encode("utf-8"), 3)

    @classmethod
    def from_bytes(cls, blob: bytes) -> "Fingerprint":
        p = json.loads(zlib.decompress(blob))
        return cls(
            title_terms=frozenset(p["t"]),
            marks=frozenset(p["m"]),
            body_words=p["w"],
            shingles=np.frombuffer(base64.b64decode(p["h"]), dtype="<u4").astype(np.uint32),
            vector=_unpack(p["v"]),
            sentence_vectors=[_unpack(s) for s in p["s"]],
            salient=tuple(p["k"]),
        )


def _pack(vector: dict[str, float]) -> list:
    return [[t, round(w, 4)] for t, w in vector.items()]


def _unpack(pairs: list) -> dict[str, float]:
    return {t: w for t, w in pairs}


def fingerprint(title: str, text: str) -> Fingerprint:
    """Reduce an item to its fingerprint (pure: same input, same fingerprint)."""
    title = title or ""
    text = text or ""
    title_words = words(title)
    body_words = words(text)
    vector = tfidf(stems(title_words) + stems(body_words))
    long_text = len(body_words) >= LONG_TEXT_WORDS
    title_terms = frozenset(stems(title_words, TITLE_STOPWORDS))
    table = idf_table()
    top = [t for t, _ in sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[:SALIENT_TERMS]]
    # The rarer title words too: a truncated copy shares its title with the original, not always
    # its top terms. Common ones ("china") would make every item a candidate of every other.
    rare_title = sorted((t for t in title_terms if table.idf(t) >= TITLE_TERM_MIN_IDF), key=lambda t: (-table.idf(t), t))
    salient = tuple(dict.fromkeys([*top, *rare_title[:TITLE_INDEX_TERMS]]))
    return Fingerprint(
        title_terms=title_terms,
        marks=title_marks(title),
        body_words=len(body_words),
        shingles=shingle_hashes(body_words),
        vector=vector,
        sentence_vectors=[tfidf(terms(s)) for s in sentences(text)] if long_text else [],
        salient=salient,
    )
