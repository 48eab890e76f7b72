"""`extract_page` on small real HTML documents: the page's language and its fallbacks."""

from __future__ import annotations

import pytest

from flows.sources.extract import extract_page

BODY = "".join(
    f"<p>Paragraph {i}: negotiators met in Geneva on Tuesday to discuss export controls on "
    f"advanced chips, and both delegations said they expected to meet again next month.</p>"
    for i in range(6)
)


def page(html_attrs: str = "", head: str = "") -> bytes:
    return (
        f"<!DOCTYPE html><html {html_attrs}><head><title>Talks</title>{head}</head>"
        f"<body><article><h1>Talks</h1>{BODY}</article></body></html>"
    ).encode()


@pytest.mark.parametrize(
    "html_attrs, head, expected",
    [
        ('lang="en-US"', '<meta property="og:locale" content="fr_FR">', "en"),  # <html lang> first
        ('xml:lang="de"', "", "de"),
        ("", '<meta http-equiv="Content-Language" content="zh-CN">', "zh"),
        ("", '<meta property="og:locale" content="ja_JP">', "ja"),
        ('lang="not a tag!"', '<meta property="og:locale" content="es_ES">', "es"),  # an unreadable tag is skipped
        ("", "", None),
    ],
)
def test_language_comes_from_the_first_readable_declaration(html_attrs, head, expected):
    result = extract_page(page(html_attrs, head), "https://example.com/talks", "text/html; charset=utf-8")
    assert result is not None and "Geneva" in result.text
    assert result.language == expected


# parse_page builds from bytes the tree trafilatura's loader builds from a decoded str.


def _loader_tree(body: bytes, content_type: str | None):
    import trafilatura

    from flows.fetch.charset import decode_html

    return trafilatura.load_html(decode_html(body, content_type))


def _same_tree(left, right) -> bool:
    from lxml import etree

    return (left is None and right is None) or etree.tostring(left) == etree.tostring(right)


@pytest.mark.parametrize(
    "body, content_type",
    [
        (page('lang="en"'), "text/html; charset=utf-8"),
        (page().replace(b"Geneva", b"Gen\x00e\x08va\x0b\x1f"), "text/html"),  # control characters
        (page().replace(b"Geneva", "Gen\ufffeeva\uffff".encode()), "text/html"),  # noncharacters
        (b"\xef\xbb\xbf" + page(), "text/html"),  # byte-order mark
        (page().replace(b"<!DOCTYPE html>", b"<!DOCTYPE html PUBLIC '-//W3C//DTD XHTML 1.0//EN' />"), None),
        (b"<html/>\n<head><title>T</title></head>" + BODY.encode(), None),  # self-closing <html/>
        (page().replace(b"Geneva", "Genève, Zürich".encode("cp1252")), "text/html; charset=windows-1252"),
        (
            page().replace(b"<head>", b'<head><meta charset="gbk">').replace(b"Geneva", "日内瓦".encode("gbk")),
            "text/html; charset=iso-8859-1",
        ),  # the document wins
        (page().replace(b"Geneva", b"Geneva 1+-1"), "text/html; charset=utf-7"),  # ASCII bytes, other text
        (b"just some words, no markup at all", "text/html"),  # not HTML: None
        (b"", "text/html"),
    ],
)
def test_parse_page_builds_the_tree_trafilaturas_loader_builds(body, content_type):
    from flows.sources.extract import parse_page

    assert _same_tree(parse_page(body, content_type), _loader_tree(body, content_type))


def test_parse_page_reads_a_legacy_encoding_right():
    from flows.sources.extract import parse_page

    body = page().replace(b"Geneva", "Genève".encode("cp1252"))
    tree = parse_page(body, "text/html; charset=windows-1252")
    assert "Genève" in tree.text_content()


def test_scripts_and_styles_go_but_json_data_stays_for_trafilatura():
    """A page whose article is only in its JSON-LD (rendered by script) still yields the article:
    trafilatura's last resort reads `articleBody`, so JSON scripts must survive the clean-up."""
    article = " ".join(f"Sentence {i} about the export control talks in Geneva." for i in range(40))
    body = (
        '<!DOCTYPE html><html lang="en"><head><title>Talks</title>'
        '<style>article p { color: red }</style><script>var talks = "Geneva " + 1;</script>'
        '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",'
        f' "headline": "Talks", "articleBody": "{article}"}}</script></head>'
        '<body><div id="app"></div><script>render(document.getElementById("app"));</script></body></html>'
    )
    result = extract_page(body.encode(), "https://example.com/talks", "text/html; charset=utf-8")
    assert result is not None and "Sentence 39 about the export control talks" in result.text
    assert "var talks" not in result.text and "render(" not in result.text and "color: red" not in result.text
