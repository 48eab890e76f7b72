"""Sentences and passages with offsets, and the term patterns the classifier is built on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

TITLE_SEPARATOR = "\n\n"
PASSAGE_WORDS = 70  # about a news lead: long articles are judged in lead-sized pieces
PARAGRAPH_WORDS = 25  # a paragraph this long is a passage of its own (shorter ones join the next)

# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) before whitespace and an
# opening capital, quote or digit; abbreviations like "U.S." and "Mr." do not end a sentence.
_ABBREV = re.compile(r"(?:\b[A-Z]\.){1,3}$|\b(?:Mr|Mrs|Ms|Dr|Gen|Sen|Rep|St|Jr|Sr|Lt|Col|Gov|Inc|Corp|Co|No|vs|etc)\.$")
_BOUNDARY = re.compile(r"[.!?…][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|\n+")


def joined_text(title: str, text: str) -> str:
    """The string evidence offsets index into: the title, a blank line, then the body."""
    return f"{title.strip()}{TITLE_SEPARATOR}{text}" if title.strip() else text


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str
    index: int  # 0 = title (when there is one), then body sentences in order
    in_title: bool
    paragraph: int = 0  # which paragraph of the joined text (blank-line separated) it sits in


def sentences(title: str, text: str) -> list[Sentence]:
    """Split `joined_text(title, text)` into sentences, keeping offsets into it."""
    full = joined_text(title, text)
    title_len = len(title.strip())
    out: list[Sentence] = []
    pos = 0
    paragraph = 0
    for m in _BOUNDARY.finditer(full):
        candidate = full[pos : m.start() + 1].rstrip()
        if m.group().strip() and _ABBREV.search(candidate):
            continue
        _add(
            out,
            full,
            pos,
            m.start() + (0 if m.group().startswith("\n") else len(m.group().rstrip())),
            title_len,
            paragraph,
        )
        if "\n" in m.group():
            paragraph += 1
        pos = m.end()
    _add(out, full, pos, len(full), title_len, paragraph)
    return out


def _add(out: list[Sentence], full: str, start: int, end: int, title_len: int, paragraph: int) -> None:
    chunk = full[start:end]
    lead = len(chunk) - len(chunk.lstrip())
    chunk = chunk.strip()
    if not chunk:
        return
    s = start + lead
    out.append(
        Sentence(s, s + len(chunk), chunk, len(out), in_title=title_len > 0 and s < title_len, paragraph=paragraph)
    )


def passages(
    sents: list[Sentence], max_words: int = PASSAGE_WORDS, paragraph_words: int = PARAGRAPH_WORDS
) -> list[list[Sentence]]:
    """Group body sentences into passages shaped like a news lead: a paragraph of at least
    `paragraph_words` words is one passage (a longer one than `max_words` is cut at a sentence
    past that), shorter paragraphs join the next ones up to `max_words`.

    A long article is classified passage by passage (each with the title), as the model learned
    from headlines with their lead paragraph, so a single paragraph on another matter can still
    label the item, with its own evidence (grouping it with the next paragraph diluted it: a
    tariffs paragraph followed by a Taiwan one scored trade 0.26, alone 0.94). Title sentences are
    not part of any passage; callers add them to each.
    """
    body = [s for s in sents if not s.in_title]
    out: list[list[Sentence]] = []
    current: list[Sentence] = []
    words = 0
    for i, s in enumerate(body):
        n = len(s.text.split())
        new_paragraph = bool(current) and s.paragraph != current[-1].paragraph
        if current and ((new_paragraph and (words >= paragraph_words or words + n > max_words)) or words >= max_words):
            out.append(current)
            current, words = [], 0
        current.append(s)
        words += n
    if current:
        out.append(current)
    return out


def _term_body(term: str) -> tuple[str, bool]:
    prefix = term.endswith("*")
    core = term.rstrip("*")
    body = re.escape(core).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[-\s]?")
    body = body.replace("’", "['’]").replace("'", "['’]")
    left = r"(?<![\w])" if core[:1].isalnum() else ""
    right = r"[\w-]*" if prefix else (r"(?![\w])" if core[-1:].isalnum() else "")
    upper = sum(ch.isupper() for ch in core)
    case_sensitive = upper >= 2 or (len(core) <= 3 and upper >= 1)
    return left + body + right, case_sensitive


@lru_cache(maxsize=8192)
def term_pattern(term: str) -> re.Pattern:
    """A word-bounded regex for a taxonomy term.

    A trailing `*` matches any word ending; acronyms and short capitalised terms ("US", "WHO",
    "AI", "Xi") match case-sensitively so "us", "who" and "ai" in running text do not count.
    """
    body, case_sensitive = _term_body(term)
    return re.compile(body, 0 if case_sensitive else re.IGNORECASE)


_FIRST_RUN = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class PhraseMatch:
    start: int
    end: int
    text: str
    payloads: tuple  # every entry whose term matched exactly this span


class PhraseMatcher:
    """Find taxonomy terms in a text fast: leftmost-longest, non-overlapping.

    One regex alternation of hundreds of terms is slow in Python's engine; instead each word
    token looks up the few terms that can start with it and tries only their anchored patterns.
    Most terms start with a whole word (one dict lookup); terms whose first word may run on into
    a longer token ("tariff*", "anti-dumping" ~ "antidumping") are found by the token's first
    three letters. `find` lets the longest match at a position claim its span ("South China Sea"
    hides "China"); `candidates` gives every match, for callers with their own rule.
    """

    PREFIX_KEY = 3

    def __init__(self, entries: list[tuple[str, object]]):
        self._exact: dict[str, list[tuple[re.Pattern, object]]] = {}
        self._prefix: dict[str, list[tuple[str, re.Pattern, object]]] = {}
        for term, payload in entries:
            core = term.rstrip("*")
            first = _FIRST_RUN.search(core)
            if not first:
                continue
            key = first.group().lower()
            after = core[first.end() : first.end() + 1]
            runs_on = (term.endswith("*") and first.end() == len(core)) or after in ("-", "'", "’")
            if runs_on and len(key) >= self.PREFIX_KEY:
                self._prefix.setdefault(key[: self.PREFIX_KEY], []).append((key, term_pattern(term), payload))
            else:
                self._exact.setdefault(key, []).append((term_pattern(term), payload))

    def candidates(self, text: str) -> Iterator[tuple[int, int, object]]:
        """Every (start, end, payload) of every term matching at a word start, overlaps included."""
        exact, prefix, k = self._exact, self._prefix, self.PREFIX_KEY
        for tok in _TOKEN.finditer(text):
            word = tok.group().lower()
            cands = exact.get(word)
            more = prefix.get(word[:k])
            if not cands and not more:
                continue
            if more:
                cands = (cands or []) + [(pat, payload) for key, pat, payload in more if word.startswith(key)]
            pos = tok.start()
            for pattern, payload in cands:
                m = pattern.match(text, pos)
                if m:
                    yield pos, m.end(), payload

    def find(self, text: str) -> list[PhraseMatch]:
        """Leftmost-longest, non-overlapping matches; every payload of the longest one kept."""
        found: list[PhraseMatch] = []
        covered = 0
        best_start, best_end, best = -1, -1, []
        for start, end, payload in self.candidates(text):
            if start < covered:
                continue
            if start != best_start:
                if best:
                    found.append(PhraseMatch(best_start, best_end, text[best_start:best_end], tuple(best)))
                    covered = best_end
                    if start < covered:
                        best_start, best_end, best = -1, -1, []
                        continue
                best_start, best_end, best = start, end, [payload]
            elif end > best_end:
                best_end, best = end, [payload]
            elif end == best_end:
                best.append(payload)
        if best:
            found.append(PhraseMatch(best_start, best_end, text[best_start:best_end], tuple(best)))
        return found
