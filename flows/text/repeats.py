"""Drop passages an article repeats, verbatim or in light paraphrase.

Copy-pasted and content-farm articles often say the same paragraph twice ("However, it is worth
noting that China's refusal …" restating an earlier paragraph). A reader should see it once.
A later paragraph is dropped when most of its content words already appeared in one earlier
paragraph (containment, not Jaccard, so a shorter restatement of a long paragraph is caught).
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_STOP = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been being it its this "
    "that these those there their they them he she his her we our you your i not no so than then also "
    "has have had do does did will would can could may might should must into over under about after "
    "before while which who whom whose what when where why how all any both each more most other some "
    "such only own same very just even however despite".split()
)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def drop_repeated_passages(paragraphs: list[str], threshold: float = 0.6, min_words: int = 6) -> list[str]:
    """Keep the first telling of each passage; later paragraphs mostly contained in one earlier are dropped."""
    kept: list[str] = []
    seen: list[set[str]] = []
    for paragraph in paragraphs:
        words = content_words(paragraph)
        if len(words) >= min_words and any(len(words & prior) / len(words) >= threshold for prior in seen):
            continue
        kept.append(paragraph)
        if words:
            seen.append(words)
    return kept
