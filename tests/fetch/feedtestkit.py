"""Test material builders for the feed tests: small RSS documents and the project's test pages."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "tests" / "testdata"


def page(name: str) -> bytes:
    return (TESTDATA / "pages" / name).read_bytes()


def rss(
    items: list[dict], *, title: str = "Example Wire – China", extra_channel: str = "", encoding: str = "utf-8"
) -> bytes:
    """A small RSS 2.0 document; each item dict may give title, link, guid, pubDate, description."""
    parts = [
        f'<?xml version="1.0" encoding="{encoding}"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>',
        f"<title>{title}</title><link>https://wire.example/</link><language>en-us</language>",
        extra_channel,
    ]
    for item in items:
        parts.append("<item>")
        for tag in ("title", "link", "guid", "pubDate", "description", "author"):
            if tag in item:
                parts.append(f"<{tag}>{item[tag]}</{tag}>")
        if "content" in item:
            parts.append(f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode(encoding)


# Jobs for the worker-pool tests (module-level so worker processes can unpickle them).


def crash_worker() -> None:
    import os

    os._exit(3)


def sleep_then_return(seconds: float, value: str) -> str:
    import time

    time.sleep(seconds)
    return value


def raise_value_error() -> None:
    raise ValueError("bad input in the worker")
