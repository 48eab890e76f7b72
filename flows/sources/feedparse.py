"""Fetched bytes → a feed's entries: RSS/Atom/RDF with feedparser, JSON Feed, HTML discovery.

Runs in a worker process (feedparser is slow on large feeds), so it takes and returns plain
data. What the real web sends and how it is handled:

- The response headers go to feedparser so HTTP charsets resolve; a header charset that
  contradicts the document is settled by `flows.fetch.charset.resolve_charset`.
- Ill-formed feeds feedparser can still read are kept, with the problem recorded. Ones it
  cannot read get one repair attempt (junk before the root element, undeclared namespace
  prefixes on the RSS elements themselves) before being called unreadable.
- An HTML page yields the feed links it declares (`<link rel="alternate" type="…rss+xml">`).
- JSON Feed 1.0/1.1 is read directly (feedparser 6 does not know it).
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin

from flows.fetch.charset import (
    content_type_with_charset,
    declared_encoding,
    header_charset,
    media_type,
    resolve_charset,
    undeclared_legacy_charset,
)

FEED_LINK_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/feed+json",
    "application/json",
    "application/xml",
    "text/xml",
)
HTML_TYPES = ("text/html", "application/xhtml+xml")
_HTML_SNIFF = re.compile(rb"^\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])", re.I | re.S)
_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF)[\s>]")
_PREFIXED_TAG = re.compile(rb"<(/?)([A-Za-z_][\w.-]*):")
_DECLARED_PREFIX = re.compile(rb"xmlns:([A-Za-z_][\w.-]*)\s*=")
_SY_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400, "yearly": 365 * 86400}


_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,20}));?")


def _impossible_refs_replaced(body: bytes) -> bytes:
    """feedparser 6 raises on a character reference to a surrogate or past U+10FFFF (`&#xD800;`),
    which would make one hostile entry cost the whole feed on every run; such a reference becomes
    U+FFFD instead."""
    if b"&#" not in body:
        return body

    def sub(m: re.Match) -> bytes:
        value = int(m.group(1), 16) if m.group(1) else int(m.group(2))
        return b"&#xFFFD;" if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF else m.group(0)

    return _CHAR_REF.sub(sub, body)


class NotAFeed(Exception):
    """The bytes are neither a feed nor a page that links one (message says what they are)."""


@dataclass
class FeedEntry:
    title: str
    guid: str | None = None
    link: str | None = None
    published: datetime | None = None  # UTC, as the feed gives it (clamping happens later)
    author: str | None = None
    summary_html: str | None = None
    content_html: str | None = None
    content_text: str | None = None
    language: str | None = None


@dataclass
class ParsedFeed:
    kind: str  # feedparser's version (rss20, atom10, …), "json", or "html"
    title: str | None = None
    link: str | None = None
    language: str | None = None
    entries: list[FeedEntry] = field(default_factory=list)
    problem: str | None = None  # why the feed is ill-formed, when it is
    ttl_s: int | None = None  # the feed's own minimum refresh interval
    alternates: list[str] = field(default_factory=list)  # for an HTML page: feed links found


def parse_feed(body: bytes, url: str, headers: dict[str, str]) -> ParsedFeed:
    """Parse fetched bytes. `url` is the final URL (base of relative links). Raises NotAFeed."""
    content_type = headers.get("content-type")
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise NotAFeed("empty document")
    if "json" in media_type(content_type) or stripped[:1] in (b"{", b"["):
        return parse_json_feed(stripped, url)
    body = _impossible_refs_replaced(body)
    parsed = _parse_xml(body, url, headers)
    if parsed.entries or (parsed.kind and not parsed.problem):
        return parsed
    repaired = _repair(body)
    if repaired is not None:
        again = _parse_xml(repaired, url, headers)
        if again.entries:
            again.problem = f"repaired ill-formed feed ({parsed.problem or 'unreadable'})"
            return again
    if parsed.kind:
        return parsed  # a feed, ill-formed, with no entries we can read: kept, problem recorded
    if media_type(content_type) in HTML_TYPES or _HTML_SNIFF.match(body[:2048]):
        alternates = discover_feed_links(body, url, content_type)
        if not alternates:
            raise NotAFeed('an HTML page with no <link rel="alternate"> feed link')
        return ParsedFeed(kind="html", alternates=alternates)
    raise NotAFeed(f"not a feed ({parsed.problem or 'no feed elements found'})")


# ---------------------------------------------------------------- RSS / Atom / RDF


def _feedparser_headers(body: bytes, headers: dict[str, str]) -> dict[str, str]:
    # No Content-Location: feedparser would resolve opaque RSS guids ("wire-1") against it as
    # if they were links. Entry links are resolved against the feed's URL in `_parse_xml`.
    out = {}
    content_type = headers.get("content-type")
    if content_type:
        chosen = resolve_charset(body, content_type)
        if header_charset(content_type) and chosen and chosen != header_charset(content_type):
            content_type = content_type_with_charset(content_type, chosen)
    guessed = undeclared_legacy_charset(body, content_type)
    if guessed:  # feedparser would read these bytes as UTF-8/windows-1252 mojibake
        content_type = content_type_with_charset(content_type or "application/xml", guessed)
    if content_type:
        out["content-type"] = content_type
    if headers.get("content-language"):
        out["content-language"] = headers["content-language"]
    return out


def _utc(struct) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


def _http_link(base: str, link: str | None) -> str | None:
    """An entry's link resolved against the feed's URL; None unless http(s) (a `javascript:` or
    `data:` "link" must never become an item's URL)."""
    if not link or not link.strip():
        return None
    resolved = urljoin(base, link.strip())
    return resolved if resolved.lower().startswith(("http://", "https://")) else None


def _plain(value: str | None) -> str:
    """Titles may carry markup (Atom type="html"); a title is plain text."""
    if not value:
        return ""
    if "<" in value or "&" in value:
        from lxml import html as lxml_html

        try:
            value = lxml_html.fragment_fromstring(value, create_parent="span").text_content()
        except Exception:
            value = re.sub(r"<[^>]+>", " ", value)
    return " ".join(value.split())


def _problem(result) -> str | None:
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}"[:300] if exc else "ill-formed feed"


def _feed_ttl(feed) -> int | None:
    intervals = []
    ttl = str(feed.get("ttl") or "").strip()
    if ttl.isdigit():
        intervals.append(int(ttl) * 60)
    period = _SY_PERIODS.get(str(feed.get("sy_updateperiod") or "").strip().lower())
    if period:
        frequency = str(feed.get("sy_updatefrequency") or "1").strip()
        intervals.append(period // max(int(frequency) if frequency.isdigit() else 1, 1))
    return max(intervals) if intervals else None


def _parse_xml(body: bytes, url: str, headers: dict[str, str]) -> ParsedFeed:
    import feedparser

    # feedparser's own HTML sanitizing and relative-URI rewriting triple its parse time; neither
    # is needed: entry HTML is reduced to text (`flows.sources.extract.fragment_text`), summaries are
    # sanitized with nh3 before storage, and links are resolved below.
    try:
        result = feedparser.parse(
            body, response_headers=_feedparser_headers(body, headers), resolve_relative_uris=False, sanitize_html=False
        )
    except (UnicodeError, ValueError, LookupError) as e:
        # feedparser's encoding detection raises on some hostile declarations (a NUL in the
        # encoding name, a codec that cannot decode byte 0): the document is not a readable feed.
        raise NotAFeed(f"unreadable encoding: {type(e).__name__}: {e}"[:300]) from None
    feed = result.get("feed", {})
    entries = []
    for e in result.get("entries", []):
        contents = [c for c in e.get("content", []) if c.get("value")]
        content = max(contents, key=lambda c: len(c["value"]))["value"] if contents else None
        entries.append(
            FeedEntry(
                title=_plain(e.get("title")),
                guid=(e.get("id") or "").strip() or None,
                link=_http_link(url, e.get("link")),
                published=_utc(e.get("published_parsed") or e.get("updated_parsed") or e.get("created_parsed")),
                author=_plain(e.get("author")) or None,
                summary_html=e.get("summary") or None,
                content_html=content,
                language=e.get("language") or None,
            )
        )
    return ParsedFeed(
        kind=result.get("version") or "",
        title=_plain(feed.get("title")) or None,
        link=feed.get("link") or None,
        language=feed.get("language") or headers.get("content-language") or None,
        entries=entries,
        problem=_problem(result),
        ttl_s=_feed_ttl(feed),
    )


def _repair(body: bytes) -> bytes | None:
    """Cut junk before the root element and drop undeclared prefixes (`<rss:item>` → `<item>`)."""
    root = _FEED_ROOT.search(body)
    if root is None:
        return None
    declared = set(_DECLARED_PREFIX.findall(body))
    fixed = _PREFIXED_TAG.sub(
        lambda m: m.group(0) if m.group(2) in declared else b"<" + m.group(1), body[root.start() :]
    )
    encoding = declared_encoding(body) or "utf-8"
    fixed = f'<?xml version="1.0" encoding="{encoding}"?>\n'.encode("ascii") + fixed
    return fixed if fixed != body else None


# ---------------------------------------------------------------- HTML discovery


def discover_feed_links(body: bytes, url: str, content_type: str | None) -> list[str]:
    """Feed URLs an HTML page declares, most likely first (comment feeds last)."""
    from lxml import html as lxml_html

    from flows.fetch.charset import decode_html

    try:
        doc = lxml_html.document_fromstring(decode_html(body, content_type))
    except Exception:
        return []
    base = urljoin(url, (doc.xpath("//base/@href") or [url])[0])
    found: list[tuple[int, int, str]] = []
    for position, link in enumerate(doc.xpath("//link[@href]")):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" not in rels or kind not in FEED_LINK_TYPES:
            continue
        href = urljoin(base, link.get("href").strip())
        if not href.startswith(("http://", "https://")) or any(href == f[2] for f in found):
            continue
        is_comments = "comment" in (link.get("title") or "").lower() or "/comments/" in href
        found.append((1 if is_comments else 0, position, href))
    return [href for _, _, href in sorted(found)]


# ---------------------------------------------------------------- JSON Feed


def _json_date(value) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _json_author(*holders) -> str | None:
    for holder in holders:
        if not isinstance(holder, dict):
            continue
        authors = holder.get("authors") or ([holder["author"]] if holder.get("author") else [])
        names = [a.get("name") for a in authors if isinstance(a, dict) and a.get("name")]
        if names:
            return ", ".join(str(n) for n in names)
    return None


def _text(value) -> str | None:
    return str(value).strip() or None if value not in (None, "") else None


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        data = json.loads(body.decode("utf-8-sig", errors="replace"))
    except ValueError as exc:
        raise NotAFeed(f"invalid JSON: {exc}") from None
    if isinstance(data, dict) and not isinstance(data.get("items"), list) and isinstance(data.get("results"), list):
        return parse_federal_register(data, url)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise NotAFeed("JSON without a JSON Feed `items` list")
    version = str(data.get("version") or "")
    problem = (
        None
        if version.startswith(("https://jsonfeed.org/version/", "http://jsonfeed.org/version/"))
        else f"JSON Feed without a valid version ({version[:60] or 'none'})"
    )
    entries = []
    for item in data["items"]:
        if not isinstance(item, dict):
            problem = problem or "JSON Feed item that is not an object"
            continue
        link = _text(item.get("url")) or _text(item.get("external_url"))
        entries.append(
            FeedEntry(
                title=_plain(_text(item.get("title"))),
                guid=_text(item.get("id")),
                link=_http_link(url, link),
                published=_json_date(item.get("date_published")) or _json_date(item.get("date_modified")),
                author=_json_author(item, data),
                summary_html=_text(item.get("summary")),
                content_html=_text(item.get("content_html")),
                content_text=_text(item.get("content_text")),
                language=_text(item.get("language")),
            )
        )
    return ParsedFeed(
        kind="json",
        title=_plain(_text(data.get("title"))) or None,
        link=_text(data.get("home_page_url")),
        language=_text(data.get("language")),
        entries=entries,
        problem=problem,
    )


# ---------------------------------------------------------------- Federal Register documents API


def _publication_day(value) -> datetime | None:
    """A publication date without a time ("2026-12-02") as midday UTC, so the document shows
    under its own date in every zone from UTC−11 to UTC+11 (midnight UTC is the day before in
    the Americas)."""
    when = _json_date(value)
    if when is not None and isinstance(value, str) and len(value.strip()) == 10:
        when = when.replace(hour=12)
    return when


def parse_federal_register(data: dict, url: str) -> ParsedFeed:
    """The Federal Register's documents API (`/api/v1/documents.json?conditions[...]`):
    {"results": [{"title", "html_url", "publication_date", "abstract", "document_number", "type",
    "agencies": [{"name"}, …]}]}. Each document is an entry; its number is the guid, its agencies
    the author, its abstract the summary."""
    import html

    entries = []
    problem = None
    for doc in data["results"]:
        if not isinstance(doc, dict):
            problem = problem or "Federal Register result that is not an object"
            continue
        agencies = doc.get("agencies") if isinstance(doc.get("agencies"), list) else []
        names = [str(a.get("name") or a.get("raw_name") or "") if isinstance(a, dict) else str(a) for a in agencies]
        number = _text(doc.get("document_number"))
        kind = _text(doc.get("type"))
        abstract = _text(doc.get("abstract"))
        summary = "".join(f"<p>{html.escape(part)}</p>" for part in (f"{kind}." if kind else None, abstract) if part)
        entries.append(
            FeedEntry(
                title=_plain(_text(doc.get("title"))),
                guid=f"federalregister:{number}" if number else None,
                link=_http_link(url, _text(doc.get("html_url"))),
                published=_publication_day(doc.get("publication_date")),
                author=", ".join(n for n in names if n) or None,
                summary_html=summary or None,
                content_text=abstract,
            )
        )
    return ParsedFeed(
        kind="federal-register",
        title=_text(data.get("description")) or "Federal Register",
        link="https://www.federalregister.gov/",
        entries=entries,
        problem=problem,
    )
