"""`extract_page` on small real HTML documents: the page's language and its fallbacks."""

from __future__ import annotations

import pytest

from flows.extract import extract_page

BODY = "".join(f"<p>Paragraph {i}: negotiators met in Geneva on Tuesday to discuss export controls on "
               f"advanced chips, and both delegations said they expected to meet again next month.</p>"
               for i in range(6))


def page(html_attrs: str = "", head: str = "") -> bytes:
    return (f"<!DOCTYPE html><html {html_attrs}><head><title>Talks</title>{head}</head>"
            f"<body><article><h1>Talks</h1>{BODY}</article></body></html>").encode()


@pytest.mark.parametrize("html_attrs, head, expected", [
    ('lang="en-US"', '<meta property="og:locale" content="fr_FR">', "en"),     # <html lang> first
    ('xml:lang="de"', "", "de"),
    ("", '<meta http-equiv="Content-Language" content="zh-CN">', "zh"),
    ("", '<meta property="og:locale" content="ja_JP">', "ja"),
    ('lang="not a tag!"', '<meta property="og:locale" content="es_ES">', "es"),  # an unreadable tag is skipped
    ("", "", None),
])
def test_language_comes_from_the_first_readable_declaration(html_attrs, head, expected):
    result = extract_page(page(html_attrs, head), "https://example.com/talks", "text/html; charset=utf-8")
    assert result is not None and "Geneva" in result.text
    assert result.language == expected
