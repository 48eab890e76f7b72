"""Hostile strings and the check that rendered output carries no active content.

"Active content" is anything a browser or mail client would execute or fetch on its own: script
elements, event-handler attributes, `javascript:`/`vbscript:`/`data:` URLs, CSS expressions and
imports, frames, objects, forms, meta refreshes, SVG/MathML islands.
"""

from __future__ import annotations

import re

from lxml import html as lxml_html

HOSTILE_STRINGS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html;base64,PHNjcmlwdD4=",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=//evil.example></iframe>",
    '<div style="width: expression(alert(1))">',
    "<style>@import 'http://evil/x.css';</style>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<object data=x></object>",
    "<form action=//evil><input></form>",
    "<math><mtext><script>alert(1)</script>",
    "' onmouseover='alert(1)",
    '" onfocus="alert(1)" autofocus="',
    "</title><script>x</script>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "&lt;script&gt;",
    "&#x3C;script&#x3E;",
    "{{ 7*7 }}",
    "{% raw %}",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "\ufffe",
    "𝕏",
    "中国",
    "<base href=//evil/>",
    "<link rel=stylesheet href=//evil/x.css>",
    "<body onload=alert(1)>",
    "<embed src=x>",
]

# HTML a feed can put in a summary or content: feedparser's sanitizer cases and their cousins.
XSS_HTML = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">j</a>',
    '<a href="JaVaScRiPt:alert(1)">j</a>',
    '<a href="&#106;avascript:alert(1)">e</a>',
    '<a href="java\tscript:alert(1)">t</a>',
    '<a href="vbscript:msgbox(1)">v</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">d</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<div style="width: expression(alert(1))">x</div>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<div style="-moz-binding:url(x.xml#xss)">x</div>',
    '<style>@import "http://evil.example/x.css"; body{behavior:url(x.htc)}</style>',
    '<iframe src="//evil"></iframe>',
    '<object data="x.swf"></object>',
    '<embed src="x.swf">',
    '<applet code="x"></applet>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<form action="//evil"><input name="p"></form>',
    '<svg onload="alert(1)"><script>alert(2)</script></svg>',
    "<math><mtext><script>alert(1)</script></mtext></math>",
    '<body onload="alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<link rel="stylesheet" href="//evil/x.css">',
    '<p onclick="alert(1)" onmouseover="alert(2)">p</p>',
    '<frameset onload="alert(1)"></frameset>',
    '<table background="javascript:alert(1)"><tr><td>t</td></tr></table>',
    '<isindex action="javascript:alert(1)">',
]

# Strings no UTF-8 file or database can hold (a JSON feed can still produce them: "\\ud800").
LONE_SURROGATES = ["\ud800", "a\udfffb", "\udc80\udcff"]

_EVENT_ATTR = re.compile(r"^on", re.I)
_BAD_URL = re.compile(r"^\s*(?:javascript|vbscript|data|file):", re.I)
_BAD_CSS = re.compile(r"expression\s*\(|@import|javascript:|behavior\s*:|-moz-binding", re.I)
_BAD_TAGS = {
    "script",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "form",
    "input",
    "button",
    "textarea",
    "select",
    "base",
    "link",
    "svg",
    "math",
    "audio",
    "video",
    "source",
    "portal",
    "template",
}
# The digest's own chart is an inline PNG; raster images cannot run code (SVG can, and is refused).
_INERT_DATA_IMAGE = re.compile(r"^data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]*$")
_URL_ATTRS = {
    "href",
    "src",
    "action",
    "formaction",
    "background",
    "poster",
    "srcset",
    "xlink:href",
    "data",
    "codebase",
    "cite",
    "longdesc",
    "lowsrc",
    "dynsrc",
}


def active_content(html: str) -> list[str]:
    """Every piece of active content in an HTML document (empty when it is inert)."""
    problems: list[str] = []
    doc = lxml_html.document_fromstring(html) if html.strip() else None
    if doc is None:
        return problems
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower().rsplit("}", 1)[-1]
        if tag in _BAD_TAGS:
            problems.append(f"<{tag}> element")
        if tag == "meta" and (el.get("http-equiv") or "").lower() == "refresh":
            problems.append("meta refresh")
        if tag == "style" and _BAD_CSS.search(el.text or ""):
            problems.append("CSS expression/import in <style>")
        for name, value in el.attrib.items():
            lname = name.lower()
            if _EVENT_ATTR.match(lname):
                problems.append(f"event handler {name}= on <{tag}>")
            if (
                lname in _URL_ATTRS
                and _BAD_URL.match(value or "")
                and not (tag == "img" and lname == "src" and _INERT_DATA_IMAGE.match(value))
            ):
                problems.append(f"{name}={value[:40]!r} on <{tag}>")
            if lname == "style" and _BAD_CSS.search(value or ""):
                problems.append(f"CSS expression in style= on <{tag}>")
    return problems


def assert_no_active_content(html: str) -> None:
    problems = active_content(html)
    assert not problems, f"active content in rendered output: {problems[:5]}"
