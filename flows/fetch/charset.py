"""Which character encoding a fetched document is in, when the server and the document disagree.

Servers often send a default `charset=` (ISO-8859-1, US-ASCII) for documents that declare and
are in UTF-8, and the strict rule (the header wins) then turns every accent into mojibake. The
rule here: when the header's charset contradicts what the document itself declares (byte-order
mark, XML declaration or HTML `<meta charset>`), and the document contains non-ASCII bytes that
decode cleanly in its own declared encoding, the document is right. Otherwise the header wins, as
the HTTP and XML media-type rules say. Pure-ASCII documents decode the same either way.
"""

from __future__ import annotations

import codecs
import functools
import re
from email.message import Message

_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)


def canonical_codec(name: str | None) -> str | None:
    """Python's name for an encoding label, or None when it is not a known encoding."""
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("'\"")).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    """The `charset` parameter of a Content-Type header, as a known codec name."""
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    return canonical_codec(message.get_param("charset"))


def media_type(content_type: str | None) -> str:
    """`text/html` from `text/html; charset=utf-8`, lower case ('' when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def declared_encoding(body: bytes) -> str | None:
    """What the document says about itself: BOM, else XML declaration, else `<meta charset>`."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return canonical_codec(name)
    head = body[:4096]
    match = _XML_DECL.match(head) or _META_CHARSET.search(head)
    return canonical_codec(match.group(1).decode("ascii")) if match else None


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def resolve_charset(body: bytes, content_type: str | None) -> str | None:
    """The encoding to read `body` with, or None when neither the header nor the document says."""
    from_header = header_charset(content_type)
    from_document = declared_encoding(body)
    if from_header and from_document and from_header != from_document:
        if not body.isascii() and _decodes(body, from_document):
            return from_document
        return from_header
    return from_header or from_document


def detect_charset(body: bytes) -> str | None:
    """A statistical guess (charset-normalizer) for bytes that say nothing about their encoding."""
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200_000]).best()
    return canonical_codec(best.encoding) if best is not None and _decodes(body, best.encoding) else None


def undeclared_legacy_charset(body: bytes, content_type: str | None) -> str | None:
    """For a document with no charset anywhere that is not UTF-8 either: its guessed encoding."""
    if resolve_charset(body, content_type) or body.isascii() or _decodes(body, "utf-8"):
        return None
    return detect_charset(body)


def content_type_with_charset(content_type: str | None, charset: str) -> str:
    """The same media type with its charset parameter replaced."""
    return f"{media_type(content_type) or 'application/octet-stream'}; charset={charset}"


def html_encoding(body: bytes, content_type: str | None) -> tuple[str, str]:
    """(encoding, errors) to decode an HTML page with: the resolved charset if the bytes fit it,
    else UTF-8 if they fit that, else a detected one (or the resolved one) with replacement."""
    candidates = [resolve_charset(body, content_type), "utf-8"]
    for encoding in candidates:
        if encoding and _decodes(body, encoding):
            return encoding, "strict"
    return detect_charset(body) or candidates[0] or "utf-8", "replace"


def decode_html(body: bytes, content_type: str | None) -> str:
    """Decode an HTML page (encoding chosen by `html_encoding`), without a byte-order mark."""
    return _decoded(body, *html_encoding(body, content_type))


def _decoded(body: bytes, encoding: str, errors: str) -> str:
    text = body.decode(encoding, errors=errors)
    return text[1:] if text.startswith("\ufeff") else text


def html_as_utf8(body: bytes, content_type: str | None) -> bytes:
    """The page as UTF-8 bytes without a byte-order mark, for a parser told it is UTF-8.

    Most pages are UTF-8 (or ASCII) already: their bytes are returned as they are, which spares
    a decode into a str and lxml's conversion of that str back into bytes (a third of the parse).
    """
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    encoding, errors = html_encoding(body, content_type)
    if errors == "strict" and (encoding == "utf-8" or (body.isascii() and _ascii_compatible(encoding))):
        return body
    return _decoded(body, encoding, errors).encode("utf-8", errors="replace")


@functools.lru_cache(maxsize=64)
def _ascii_compatible(encoding: str) -> bool:
    """Whether ASCII bytes mean the same text in this encoding (not so in UTF-16 or EBCDIC)."""
    sample = bytes(range(0x20, 0x7F))
    try:
        return sample.decode(encoding) == sample.decode("ascii")
    except (UnicodeDecodeError, LookupError):
        return False
