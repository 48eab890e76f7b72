"""Extractive summaries: the one or two sentences of an article that best stand for the whole.

A sentence scores by how central its words are to the article (how often its content words recur
elsewhere), how much it shares with the headline, and how early it comes — the lede usually
carries the news. Extractive on purpose: every word shown is the source's own, so nothing is made up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flows.classify.text import sentences

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+|\d+")
_ENDS_SENTENCE = re.compile(r"[.!?…][\"'”’)\]]*$")
STOPWORDS = frozenset(
    """
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each even few for from further had has have
having he her here hers him his how i if in into is it its itself just more most my no nor not now of off
on once only or other our out over own same she should so some such than that the their them then there
these they this those through to too under until up very was we were what when where which while who whom
why will with would you your said says say told new one two also however may might must year years
""".split()
)


@dataclass(frozen=True)
class _Candidate:
    index: int
    text: str
    words: list[str]


def _content_words(text: str) -> list[str]:
    return [
        w
        for w in (m.group().lower().replace("’", "'") for m in _WORD.finditer(text))
        if w not in STOPWORDS and len(w) > 2
    ]


def _candidates(text: str) -> list[_Candidate]:
    """Body sentences that read as sentences: punctuated, 6–70 words (headings and crumbs excluded)."""
    out: list[_Candidate] = []
    seen: set[str] = set()
    for s in sentences("", text):
        flat = " ".join(s.text.split())
        if flat in seen:  # boilerplate repeated through a page is not what it is about
            continue
        seen.add(flat)
        if 6 <= len(flat.split()) <= 70 and _ENDS_SENTENCE.search(flat):
            out.append(_Candidate(len(out), flat, _content_words(flat)))
    return out


def summarize(title: str, text: str, max_sentences: int = 2, max_chars: int = 360) -> str:
    """One or two sentences of `text`, in their original order, at most `max_chars` long.

    Returns "" when the text has no sentence worth quoting (the caller shows something else).
    """
    candidates = _candidates(text)
    if not candidates:
        return ""
    freq: dict[str, int] = {}
    for c in candidates:
        for w in set(c.words):
            freq[w] = freq.get(w, 0) + 1
    title_words = set(_content_words(title))
    top = max(freq.values())

    def score(c: _Candidate) -> float:
        if not c.words:
            return 0.0
        centrality = sum(freq[w] for w in set(c.words)) / (top * len(set(c.words)) ** 0.7)
        headline = len(title_words & set(c.words)) / (len(title_words) or 1)
        position = 1.0 / (1.0 + 0.25 * c.index)
        return centrality + 0.8 * headline + 0.6 * position

    ranked = sorted(candidates, key=lambda c: (-score(c), c.index))
    chosen = [ranked[0]]
    best = score(ranked[0])
    for c in ranked[1:]:
        if len(chosen) >= max_sentences:
            break
        if score(c) >= 0.6 * best and sum(len(x.text) + 1 for x in chosen) + len(c.text) <= max_chars:
            chosen.append(c)
    if len(chosen[0].text) > max_chars:
        return chosen[0].text[: max_chars - 1].rsplit(" ", 1)[0] + "…"
    return " ".join(c.text for c in sorted(chosen, key=lambda c: c.index))
