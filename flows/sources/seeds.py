"""Local seed articles: `.txt`, `.md` and `.html` files in the seeds folder.

A seed's identity is its file name, so editing a seed's text does not create a second item, and
re-running the ingest stores nothing twice.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from flows.records import Article
from flows.text.clean import clean_paragraphs, split_paragraphs, title_and_body

SEED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
MAX_SEED_BYTES = 5 * 1024 * 1024

_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_MD_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$", re.M)
_MD_QUOTE = re.compile(r"^\s*>\s?", re.M)


class SeedError(Exception):
    """A seed file that cannot be read (named in the message)."""


def markdown_to_text(md: str) -> str:
    text = _MD_IMAGE.sub("", md)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_HEADING.sub("", text)
    text = _MD_RULE.sub("", text)
    text = _MD_QUOTE.sub("", text)
    return _MD_EMPHASIS.sub(r"\2", text)


def html_to_title_and_text(html: str) -> tuple[str | None, str]:
    """Main text of an HTML file with trafilatura; falls back to all visible text."""
    import trafilatura
    from lxml import html as lxml_html

    extracted = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, favor_precision=True)
    if extracted is not None:
        data = extracted.as_dict() if hasattr(extracted, "as_dict") else dict(extracted)
        if (data.get("text") or "").strip():
            return data.get("title"), data["text"]
    doc = lxml_html.fromstring(html)
    for bad in doc.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    title = doc.findtext(".//title")
    return (title.strip() if title else None), doc.text_content()


# Encodings real files use; among equally plausible guesses these win over DOS code pages.
_COMMON_ENCODINGS = (
    "cp1252",
    "latin_1",
    "iso8859_15",
    "cp1250",
    "cp1251",
    "gb18030",
    "gbk",
    "big5",
    "shift_jis",
    "euc_jp",
    "euc_kr",
    "koi8_r",
    "utf_16",
    "iso8859_2",
)


def decode_bytes(raw: bytes) -> str:
    """UTF-8 (with or without BOM), else the most plausible common encoding charset-normalizer finds."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        results = list(from_bytes(raw))
        if not results:
            return raw.decode("utf-8", errors="replace")
        least_chaos = min(r.chaos for r in results)
        plausible = [r for r in results if r.chaos <= least_chaos + 0.01]
        common = [r for r in plausible if r.encoding in _COMMON_ENCODINGS]
        return str((common or plausible)[0])


def read_seed(path: Path) -> Article:
    """One seed file as an Article with a clean title and body. Raises SeedError."""
    try:
        if path.stat().st_size > MAX_SEED_BYTES:
            raise SeedError(f"{path.name}: larger than {MAX_SEED_BYTES // 1024 // 1024} MB")
        raw = path.read_bytes()
    except OSError as e:
        raise SeedError(f"{path.name}: cannot read: {e.strerror or e}") from None
    text = decode_bytes(raw)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        html_title, body_text = html_to_title_and_text(text)
        body = clean_paragraphs(split_paragraphs(body_text))
        title, body = (html_title.strip(), body) if html_title else title_and_body("\n\n".join(body))
    else:
        if suffix in (".md", ".markdown"):
            text = markdown_to_text(text)
        title, body = title_and_body(text)
    if not body:
        raise SeedError(f"{path.name}: no article text found")
    mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    return Article(
        key=f"seed:{path.name}",
        source="seeds",
        source_kind="seed",
        url=path.name,
        title=title,
        text="\n\n".join(body),
        published=None,
        extraction="seed",
        extraction_note=f"file modified {mtime:%Y-%m-%d}",
    )


def seed_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SEED_SUFFIXES and not p.name.startswith(".")
    )


def read_seeds(folder: Path) -> tuple[list[Article], list[str]]:
    """All readable seeds in a folder, and one error line per seed that could not be read."""
    articles, errors = [], []
    for path in seed_files(folder):
        try:
            articles.append(read_seed(path))
        except SeedError as e:
            errors.append(str(e))
    return articles, errors
