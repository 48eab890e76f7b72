"""OPML feed lists: read one into `FeedSource`s, write one from them (what every feed reader exports).

Every `<outline>` with an `xmlUrl`, at any depth (readers nest feeds in folders), is a feed;
its `title` (else `text`) is the feed's name. An outline whose URL is not http(s) is an error
naming the line, rather than a feed silently dropped. Entities and DTDs are not resolved.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lxml import etree
from pydantic import ValidationError

from flows.config import ConfigError, FeedSource


def read_opml(path: str | Path) -> list[FeedSource]:
    """The feeds an OPML file lists, in document order, without duplicate URLs. Raises ConfigError."""
    path = Path(path)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.parse(str(path), parser).getroot()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"{path}: not valid OPML (XML error: {exc})") from None
    if root.tag != "opml":
        raise ConfigError(f"{path}: not OPML (root element is <{root.tag}>, expected <opml>)")
    feeds: list[FeedSource] = []
    seen: set[str] = set()
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            continue
        name = (outline.get("title") or outline.get("text") or "").strip() or None
        try:
            feed = FeedSource(url=url, name=name, enabled=(outline.get("isDisabled") or "").lower() != "true")
        except ValidationError:
            raise ConfigError(
                f"{path}: line {outline.sourceline}: xmlUrl {url!r} must be an http:// or https:// URL"
            ) from None
        if feed.url not in seen:
            seen.add(feed.url)
            feeds.append(feed)
    return feeds


def opml_text(feeds: list[FeedSource], title: str = "uschina-digest feeds") -> str:
    """An OPML 2.0 document listing the feeds (disabled ones too, marked so)."""
    created = format_datetime(datetime.now(timezone.utc), usegmt=True)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_escape(title)}</title><dateCreated>{created}</dateCreated></head>",
        "  <body>",
    ]
    for feed in feeds:
        name = feed.name or feed.url
        extra = ' isDisabled="true"' if not feed.enabled else ""
        lines.append(
            f'    <outline type="rss" text={quoteattr(name)} title={quoteattr(name)} '
            f"xmlUrl={quoteattr(feed.url)}{extra}/>"
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def write_opml(feeds: list[FeedSource], path: str | Path, title: str = "uschina-digest feeds") -> None:
    Path(path).write_text(opml_text(feeds, title), encoding="utf-8")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
