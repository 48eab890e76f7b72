"""Official pages without a feed (China's MFA spokesperson transcripts, a ministry's press
releases) read as a list page: its article links become entries, whose pages are then fetched
like any feed entry's (same fetcher, robots.txt, per-host limits, conditional GETs of the list).

Runs in a worker process like `parse_feed`: plain data in and out.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from flows.sources.feedparse import FeedEntry, NotAFeed, ParsedFeed

MAX_LINKS = 60
MIN_TITLE_WORDS = 3


def parse_list_page(body: bytes, url: str, headers: dict[str, str], links: str | None = None) -> ParsedFeed:
    """The article links of a list page, in page order, each once.

    With `links` (a regular expression), a link is an article when its absolute URL matches it.
    Without, it is a link on the page's own site whose path goes deeper than the list page's and
    whose text has a few words (navigation, "more" and language links fall out)."""
    from lxml import html as lxml_html

    from flows.fetch.charset import decode_html

    try:
        doc = lxml_html.document_fromstring(decode_html(body, headers.get("content-type")))
    except Exception as exc:
        raise NotAFeed(f"an unreadable list page ({type(exc).__name__})") from None
    base = urljoin(url, (doc.xpath("//base/@href") or [url])[0])
    pattern = re.compile(links) if links else None
    page = urlsplit(url)
    depth = len([p for p in page.path.split("/") if p])
    seen: set[str] = set()
    entries: list[FeedEntry] = []
    for anchor in doc.xpath("//a[@href]"):
        href = urljoin(base, anchor.get("href").strip()).split("#", 1)[0]
        if not href.lower().startswith(("http://", "https://")) or href in seen or href.rstrip("/") == url.rstrip("/"):
            continue
        title = " ".join(anchor.text_content().split()) or (anchor.get("title") or "").strip()
        if pattern is not None:
            if not pattern.search(href):
                continue
        else:
            target = urlsplit(href)
            if (
                target.hostname != page.hostname
                or len([p for p in target.path.split("/") if p]) <= depth
                or len(title.split()) < MIN_TITLE_WORDS
            ):
                continue
        seen.add(href)
        entries.append(FeedEntry(title=title[:500], guid=None, link=href))
        if len(entries) >= MAX_LINKS:
            break
    title = " ".join((doc.findtext(".//title") or "").split()) or None
    return ParsedFeed(
        kind="page",
        title=title,
        link=url,
        entries=entries,
        problem=None if entries else "no article links found on the list page",
    )
