"""Plain data passed between pipeline stages. No I/O, no Prefect, no SQL.

Data flows one way: a source yields `Article`s, `store` keeps them as items, `classify` turns
text into a `Classification`, the digest reads stored items back.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Article:
    """One article as a source delivers it, before storage.

    `key` is the stable identity (feed guid, else canonical URL, else content hash; for a seed,
    `seed:<file name>`); the stored item id is derived from it, so the same article seen again
    maps to the same row.
    """

    key: str
    source: str  # display name of the source ("seeds", a feed's name)
    source_kind: str  # "seed" | "feed"
    url: str  # canonical URL, or the seed's file name
    title: str
    text: str  # cleaned plain text (paragraphs separated by blank lines)
    published: datetime | None = None  # UTC; None = undated (first-seen is used, and flagged)
    language: str | None = None
    author: str | None = None
    site_name: str | None = None
    guid: str | None = None
    feed_url: str | None = None
    extraction: str = "source"  # how the text was obtained: seed | trafilatura | feed | ...
    extraction_note: str | None = None  # why a fallback was used, if one was
    summary_html: str | None = None  # sanitized HTML kept from the feed, if any

    def __post_init__(self) -> None:
        """Whatever a source hands over, an Article can be stored and shown: no lone surrogates
        (a JSON feed's "\\ud800" cannot be encoded for the store and would fail its whole batch), a
        one-line title without control characters, and title and text cut to sane lengths (a
        hostile feed's megabyte title would bloat every digest; megabytes of text stall the
        classifier). A date before 1970 is a placeholder (epoch zero, year 1), not a date."""
        for name in (
            "key",
            "source",
            "url",
            "title",
            "text",
            "language",
            "author",
            "site_name",
            "guid",
            "feed_url",
            "extraction_note",
            "summary_html",
        ):
            value = getattr(self, name)
            if isinstance(value, str) and _SURROGATES.search(value):
                setattr(self, name, storable(value))
        if _TITLE_JUNK.search(self.title) or len(self.title) > MAX_TITLE_CHARS:
            title = " ".join(_CONTROLS.sub("", self.title).split())
            self.title = title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1].rstrip() + "…"
        if len(self.text) > MAX_TEXT_CHARS:
            cut = self.text.rfind("\n\n", 0, MAX_TEXT_CHARS)
            self.text = self.text[: cut if cut > MAX_TEXT_CHARS // 2 else MAX_TEXT_CHARS]
        if self.published is not None and self.published.year < 1970:
            self.published = None

    @property
    def item_id(self) -> str:
        return item_id_for(self.key)

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


MAX_TITLE_CHARS = 1_000
MAX_TEXT_CHARS = 200_000
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_TITLE_JUNK = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")  # controls and line breaks
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def storable(text: str) -> str:
    """The text with lone surrogates replaced by U+FFFD, so it can be encoded as UTF-8."""
    return _SURROGATES.sub("\ufffd", text)


def item_id_for(key: str) -> str:
    """A short stable id (16 hex chars) for an identity key (the same for a key before and after
    `Article` makes it storable)."""
    return hashlib.sha256(storable(key).encode("utf-8")).hexdigest()[:16]


_NON_WORD = re.compile(r"[^\w\s]")


def normalize_for_hash(text: str) -> str:
    """Case-, accent-, punctuation- and whitespace-insensitive form used for content hashes."""
    # str.split() splits on exactly the characters re's \s matches (Unicode whitespace), at a
    # fraction of the cost of a second regex pass over an article.
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def content_hash(text: str) -> str:
    return hashlib.sha256(normalize_for_hash(text).encode("utf-8")).hexdigest()


@dataclass
class Evidence:
    """A passage that supports a label, with character offsets into the classified text."""

    text: str
    start: int
    end: int
    terms: list[str] = field(default_factory=list)
    score: float = 0.0

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "terms": self.terms,
            "score": round(self.score, 4),
        }


@dataclass
class IssueLabel:
    id: str
    score: float
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"id": self.id, "score": round(self.score, 4), "evidence": [e.to_dict() for e in self.evidence]}


@dataclass
class Classification:
    """The classifier's verdict on one text: relevance, issues (multi-label) and why.

    Offsets in evidence index into `title + "\\n\\n" + text` (see `classify.joined_text`), so a
    title match and a body match are both addressable.
    """

    relevant: bool
    relevance: float
    issues: list[IssueLabel] = field(default_factory=list)
    relevance_evidence: list[Evidence] = field(default_factory=list)

    @property
    def issue_ids(self) -> list[str]:
        return [i.id for i in self.issues]

    def to_dict(self, item_id: str | None = None) -> dict:
        out = {
            "relevant": self.relevant,
            "relevance": round(self.relevance, 4),
            "issues": [i.to_dict() for i in self.issues],
        }
        if item_id is not None:
            out = {"id": item_id, **out}
        return out


@dataclass
class SourceReport:
    """What one source (the seeds folder, one feed) gave in an ingest run."""

    source: str
    status: str  # ok | not_modified | skipped | error
    items_new: int = 0
    items_seen: int = 0
    error: str | None = None
    kind: str = "feed"

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "status": self.status,
            "items_new": self.items_new,
            "items_seen": self.items_seen,
            "error": self.error,
        }
