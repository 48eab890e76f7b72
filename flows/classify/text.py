"""Sentences with character offsets, and the term matcher the classifier is built on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

TITLE_SEPARATOR = "\n\n"

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
    index: int        # 0 = title (when there is one), then body sentences in order
    in_title: bool


def sentences(title: str, text: str) -> list[Sentence]:
    """Split `joined_text(title, text)` into sentences, keeping offsets into it."""
    full = joined_text(title, text)
    title_len = len(title.strip())
    out: list[Sentence] = []
    pos = 0
    for m in _BOUNDARY.finditer(full):
        candidate = full[pos:m.start() + 1].rstrip()
        if m.group().strip() and _ABBREV.search(candidate):
            continue
        _add(out, full, pos, m.start() + (0 if m.group().startswith("\n") else len(m.group().rstrip())), title_len)
        pos = m.end()
    _add(out, full, pos, len(full), title_len)
    return out


def _add(out: list[Sentence], full: str, start: int, end: int, title_len: int) -> None:
    chunk = full[start:end]
    lead = len(chunk) - len(chunk.lstrip())
    chunk = chunk.strip()
    if not chunk:
        return
    s = start + lead
    out.append(Sentence(s, s + len(chunk), chunk, len(out), in_title=title_len > 0 and s < title_len))


@lru_cache(maxsize=4096)
def term_pattern(term: str) -> re.Pattern:
    """A word-bounded regex for a taxonomy term.

    A trailing `*` matches any word ending; acronyms and short capitalised terms ("US", "WHO",
    "AI", "Xi") match case-sensitively so "us", "who" and "ai" in running text do not count.
    """
    prefix = term.endswith("*")
    core = term.rstrip("*")
    body = re.escape(core).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[-\s]?")
    body = body.replace("’", "['’]").replace("'", "['’]")
    left = r"(?<![\w])" if core[:1].isalnum() else ""
    right = r"[\w-]*" if prefix else (r"(?![\w])" if core[-1:].isalnum() else "")
    upper = sum(ch.isupper() for ch in core)
    case_sensitive = upper >= 2 or (len(core) <= 3 and upper >= 1)
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.compile(left + body + right, flags)
