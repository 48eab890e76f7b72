"""Turn copy-pasted or extracted article text into clean paragraphs.

Real copy-paste leaves junk: hash-named image stubs (`1e88…ffb1_converted`), CMS shortcodes
(`[adinserter block="8"]`), "subscribe to our channel" promos, bylines and credit blocks, and
stray fragments cut from the middle of a sentence. Readers should see none of it, and the
classifier should not be swayed by it.
"""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200e\u200f\ufeff\ud800-\udfff]"
)  # + lone surrogates (JSON "\\ud800"): unstorable
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")

_HASH_STUB = re.compile(r"^\s*[0-9a-f]{16,}(?:[_-][\w-]+)?\s*$", re.I)
_IMAGE_STUB = re.compile(r"^\s*[\w-]*\.(?:jpe?g|png|gif|webp|avif|svg)\s*$", re.I)
_SHORTCODE = re.compile(r"\[/?[a-z_][\w-]*(?:\s+[^\]]*)?\]", re.I)
_PROMO = re.compile(
    r"^\s*(?:get the latest|subscribe|sign up|follow us|join our|download our app|click here|"
    r"share this|read more\b|related:|advertisement\b|sponsored\b|also read\b|don't miss\b|"
    r"recommended\b|watch:)"
    r"|\b(?:subscribe to our|our (?:telegram|whatsapp|youtube) channel|newsletter)\b",
    re.I,
)
_CREDIT = re.compile(
    r"^\s*(?:\(?reporting by|additional reporting|writing by|editing by|edited by|compiled by|"
    r"photo(?:graph)?s?(?: by)?:|image(?: credit)?:|credit:|source:|copyright|©|all rights reserved|"
    r"\(reuters\)|\(ap\)|\(afp\))",
    re.I,
)
_BYLINE = re.compile(
    r"^\s*[Bb]y\s+[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3}(?:\s*(?:,|and|&)\s*[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3})*\s*$"
)
_BROKEN_START = re.compile(r"^[A-Za-z]{1,2},\s+[a-z]")  # "P, noting the…": cut mid-word
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?:\s|$)")
_TERMINAL = re.compile(r"[.!?…:;\"'”’)\]]\s*$")


def normalize_text(text: str) -> str:
    """Unicode NFC, no control characters, single spaces, Unix newlines."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", _CONTROL.sub("", text))  # neither pattern matches a newline
    return "\n".join(line.strip() for line in text.split("\n"))


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by blank lines, or are single lines when the text has no blank lines."""
    text = normalize_text(text)
    blocks = re.split(r"\n\s*\n", text) if "\n\n" in text else text.split("\n")
    paragraphs = []
    for block in blocks:
        # A line break inside a block joins wrapped lines of one paragraph, unless they look like
        # separate lines (the previous one ends a sentence or is a heading).
        lines = [ln for ln in block.split("\n") if ln.strip()]
        current = ""
        for line in lines:
            if current and not _TERMINAL.search(current) and line[:1].islower():
                current += " " + line
            else:
                if current:
                    paragraphs.append(current)
                current = line
        if current:
            paragraphs.append(current)
    return paragraphs


def is_junk(paragraph: str) -> bool:
    """Lines a reader should never see: stubs, shortcodes, promos, bylines, credit blocks."""
    p = paragraph.strip()
    if not p:
        return True
    if _HASH_STUB.match(p) or _IMAGE_STUB.match(p):
        return True
    if "[" in p and not _SHORTCODE.sub("", p).strip():
        return True
    if _CREDIT.match(p) or _BYLINE.match(p):
        return True
    words = p.split()
    if len(words) < 40 and _PROMO.search(p):
        return True
    # A stray fragment: a few lowercase words with no sentence punctuation ("strategic rivalry theory").
    if len(words) <= 6 and p[:1].islower() and not _TERMINAL.search(p):
        return True
    return False


def repair_fragment(paragraph: str) -> str:
    """Drop a broken leading sentence cut mid-word ("P, noting the importance …. Despite …")."""
    if _BROKEN_START.match(paragraph):
        m = _SENTENCE_END.search(paragraph)
        return paragraph[m.end() :].strip() if m else ""
    return paragraph


def clean_paragraphs(paragraphs: list[str]) -> list[str]:
    """Remove junk and shortcodes, repair fragments, then drop passages repeated in the article."""
    from flows.text.repeats import drop_repeated_passages

    kept = []
    for p in paragraphs:
        p = _SPACES.sub(" ", _SHORTCODE.sub("", p) if "[" in p else p).strip()
        if is_junk(p):
            continue
        repaired = repair_fragment(p)  # the same object when there was nothing to repair
        if repaired is p or (repaired and not is_junk(repaired)):
            kept.append(repaired)
    return drop_repeated_passages(kept)


def clean_text(text: str) -> str:
    """Clean article text; paragraphs joined by blank lines."""
    return "\n\n".join(clean_paragraphs(split_paragraphs(text)))


def looks_like_title(line: str) -> bool:
    """A first line that is a headline: short, and not a sentence of body text."""
    words = line.split()
    if not 2 <= len(words) <= 25 or len(line) > 200:
        return False
    return not re.search(r"[.,;:]\s*$", line) or line.endswith("?")


def title_from_text(paragraphs: list[str], max_words: int = 16) -> str:
    """A headline for text that has none: its first sentence, cut at a clause boundary if long."""
    if not paragraphs:
        return "(untitled)"
    first = paragraphs[0]
    m = _SENTENCE_END.search(first)
    sentence = (first[: m.start() + 1] if m else first).strip().rstrip(".").rstrip()
    if not sentence:
        return "(untitled)"
    if len(sentence.split()) <= max_words:
        return sentence
    best = -1
    for sep in (":", " — ", " – ", ";", ",", " and ", " but ", " while "):
        for found in re.finditer(re.escape(sep), sentence):
            if len(sentence[: found.start()].split()) <= max_words:
                best = max(best, found.start())
    if best > len(sentence) * 0.3:
        return sentence[:best].rstrip(",;: ")
    return " ".join(sentence.split()[:max_words]).rstrip(",;: ") + " …"


def title_and_body(text: str) -> tuple[str, list[str]]:
    """Split raw text into (title, cleaned body paragraphs)."""
    paragraphs = [p for p in split_paragraphs(text) if not is_junk(p)]
    if paragraphs and looks_like_title(paragraphs[0]):
        title, body = paragraphs[0], paragraphs[1:]
    else:
        title, body = "", paragraphs
    body = clean_paragraphs(body)
    return (title or title_from_text(body)), body
