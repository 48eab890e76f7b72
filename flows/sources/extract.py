"""Full text of an article page with trafilatura (run in a worker process), and of feed HTML.

`extract_page` is what a worker runs: decode the page (charset rules in `flows.fetch.charset`),
read its language from the markup, extract the main text with its metadata, clean the text.
It returns None when the page yields no article text; the caller then falls back to the feed's
own content and records why in `Article.extraction_note`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Iterator

from flows.fetch.charset import decode_html, html_as_utf8
from flows.text.clean import clean_text

EXTRACT_TIMEOUT_S = 60.0
_DATE_SEARCH = {"extensive_search": False, "original_date": True}
_LANG = re.compile(r"^([a-z]{2,3})(?:[-_][a-z0-9]{1,8})*$", re.I)
_BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote pre table tr section article header footer "
    "figure figcaption dd dt hr".split()
)


@dataclass
class PageText:
    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None  # as the page gives it (trafilatura: YYYY-MM-DD)
    site_name: str | None = None
    language: str | None = None


def language_tag(value: str | None) -> str | None:
    """'en' from 'en-US', 'EN_gb' or 'en'; None for anything that is not a language tag."""
    if not value:
        return None
    match = _LANG.match(value.strip())
    return match.group(1).lower() if match else None


def _page_language(tree) -> str | None:
    """The first language tag of `<html lang>`, `xml:lang`, `Content-Language` or `og:locale`.
    The `<meta>` searches walk the whole tree, so they run only when the attributes say nothing."""
    for value in _language_candidates(tree):
        tag = language_tag(value)
        if tag:
            return tag
    return None


def _language_candidates(tree) -> Iterator[str | None]:
    yield tree.get("lang")
    yield tree.get("xml:lang")  # the HTML parser keeps the prefix in the name (XHTML pages)
    yield tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    yield from tree.xpath(
        "//meta[@http-equiv][translate(@http-equiv,'CONTENT-LANGUAGE','content-language')='content-language']/@content"
    )
    yield from tree.xpath("//meta[@property='og:locale']/@content")


_NOT_XML_BYTES = bytes(c for c in range(32) if c not in (9, 10, 13))  # C0 controls but tab, LF, CR
_NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")  # U+FFFE, U+FFFF in UTF-8
_DOCTYPE_WITH_SLASH = re.compile(rb"^< ?! ?DOCTYPE[^>]*/[^<>]*>", re.I)


@functools.cache
def _html_parser():
    """trafilatura's HTML parser settings, with lxml.html's element classes assigned in C.

    lxml.html's own parser picks each element's class with a Python callback, called for every
    element proxy trafilatura's extraction creates (~1,700 per page); the default-class lookup
    gives the same classes (bar the form-specific ones, which extraction does not use) for 3% of
    the extraction's CPU.
    """
    from lxml import etree
    from lxml import html as lxml_html

    parser = lxml_html.HTMLParser(
        collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
    )
    parser.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=lxml_html.HtmlElement,
            comment=lxml_html.HtmlComment,
            pi=lxml_html.HtmlProcessingInstruction,
            entity=lxml_html.HtmlEntity,
        )
    )
    return parser


def parse_page(body: bytes, content_type: str | None = None):
    """The page's lxml tree, as `trafilatura.load_html` builds it, parsed from UTF-8 bytes.

    trafilatura's loader takes a decoded str, scans all of it with a regex for characters XML
    forbids, and lxml then converts the str back into bytes: a third of the parse. Here the
    forbidden bytes go with one `bytes.translate`, and trafilatura's DOCTYPE repair (an lxml bug)
    is made on the bytes. The same trees on the 167 benchmark pages. A document that yields no
    tree this way (a self-closing `<html/>`, say) goes through trafilatura's own loader, which
    repairs more. None when the document is not HTML.
    """
    import trafilatura
    from lxml import etree
    from lxml import html as lxml_html

    data = html_as_utf8(body, content_type).translate(None, _NOT_XML_BYTES)
    for noncharacter in _NONCHARACTERS:
        if noncharacter in data:
            data = data.replace(noncharacter, b"")
    beginning = data[:50].lower()
    if b"doctype" in beginning:
        first_line, _, rest = data.partition(b"\n")
        data = _DOCTYPE_WITH_SLASH.sub(b"", first_line, count=1) + b"\n" + rest
    try:
        tree = lxml_html.fromstring(data, parser=_html_parser())
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        tree = None
    if tree is None or len(tree) < 1:
        return trafilatura.load_html(decode_html(body, content_type))
    if b"html" not in beginning and len(tree) < 2:  # trafilatura's test: is it HTML at all?
        return None
    return tree


def _drop_code(tree) -> None:
    """Remove scripts (but JSON data) and styles before extraction.

    They hold no article text, and trafilatura's cleaning removes them too, but only after copying
    the tree with them (twice); they are a large share of a modern page's elements. JSON scripts
    stay: trafilatura reads JSON-LD (metadata, forum detection, its last-resort text). The date
    search does read dates from scripts, so with `want_date` nothing is removed. The same output
    on the 167 benchmark pages, for 3% less CPU.
    """
    for element in tree.xpath("//script[not(contains(@type, 'json'))]|//style"):
        element.drop_tree()  # keeps the element's tail text


def extract_page(body: bytes, url: str, content_type: str | None = None, *, want_date: bool = False) -> PageText | None:
    """Main text and metadata of an HTML page; None when there is no article text in it.

    Metadata comes from the page's `<meta>`, OpenGraph and JSON-LD tags (trafilatura's
    `examine_meta`/`extract_meta_json`, under a millisecond: author on ~60% of the benchmark
    pages, site name on ~93%). trafilatura's full metadata search (byline heuristics and a date
    search: ~10 ms a page, half again the cost of the text) runs only when the entry has no date
    (`want_date`), which matters for the digest; half of all feed entries lack an author, and an
    author is not worth 50% more CPU per article.
    """
    import trafilatura
    from trafilatura.metadata import examine_meta, extract_meta_json, extract_metadata

    tree = parse_page(body, content_type)
    if tree is None:
        return None
    language = _page_language(tree)
    meta = extract_meta_json(tree, examine_meta(tree))
    if want_date:
        meta = extract_metadata(tree, default_url=url, date_config=_DATE_SEARCH)
    else:
        _drop_code(tree)
    # fast=True skips trafilatura's fallback extractors: on the 167 benchmark pages it is both
    # faster and more accurate (token F1 0.960 vs 0.945 for `trafilatura.extract` defaults).
    doc = trafilatura.bare_extraction(tree, url=url, fast=True, include_comments=False)
    if doc is None or not (doc.text or "").strip():
        return None
    text = clean_text(doc.text)
    if not text.strip():
        return None
    return PageText(
        text=text,
        title=(meta.title or doc.title or "").strip() or None,
        author=(meta.author or "").strip() or None,
        date=getattr(meta, "date", None) or None,
        site_name=(meta.sitename or "").strip() or None,
        language=language,
    )


def feed_text(*fragments: str | None) -> str:
    """The text of the first of an entry's fragments that has any (its content, then its plain
    content, then its summary), cleaned as page text is. CPU work like extraction: it runs in a
    worker, never in the event loop (a full-text feed's entry can be a whole long article)."""
    for fragment in fragments:
        if text := fragment_text(fragment):
            return text
    return ""


def fragment_text(html: str | None) -> str:
    """Plain text of an HTML fragment from a feed (a summary or `content:encoded`), paragraphs kept."""
    if not html or not html.strip():
        return ""
    if "<" not in html:
        return clean_text(html)
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return clean_text(re.sub(r"<[^>]+>", " ", html))
    for bad in root.xpath(".//script|.//style|.//noscript|.//iframe|.//form"):
        bad.drop_tree()
    parts: list[str] = []

    def walk(node) -> None:
        if isinstance(node.tag, str) and node.tag.lower() in _BLOCK_TAGS:
            parts.append("\n\n")
        if node.text and isinstance(node.tag, str):
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if isinstance(node.tag, str) and node.tag.lower() in _BLOCK_TAGS:
            parts.append("\n\n")

    walk(root)
    text = "".join(parts)
    text = "\n\n".join(" ".join(block.split()) for block in re.split(r"\n\s*\n", text))
    return clean_text(text)
