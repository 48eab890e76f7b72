"""Feed HTML made safe to show: nh3 with a small allow-list, and no images at all.

Feeds are untrusted. What survives is text formatting and http(s)/mailto links: no scripts, styles,
event handlers, `javascript:`/`data:` URLs, forms, frames or images (a remote image in an email is a
tracking pixel; pictures stay one click away, behind the story's link).
"""

from __future__ import annotations

import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "a",
    "b",
    "strong",
    "i",
    "em",
    "p",
    "br",
    "ul",
    "ol",
    "li",
    "blockquote",
    "q",
    "cite",
    "code",
    "sub",
    "sup",
    "abbr",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}}
URL_SCHEMES = {"http", "https", "mailto"}
DROP_WITH_CONTENT = {
    "script",
    "style",
    "template",
    "iframe",
    "object",
    "embed",
    "noscript",
    "svg",
    "math",
    "textarea",
    "select",
    "title",
}


def clean_feed_html(html: str | None) -> Markup | None:
    """Sanitized HTML ready for a template (already marked safe), or None when nothing is left."""
    if not html or not html.strip():
        return None
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        url_relative="deny",
        strip_comments=True,
    ).strip()
    if not nh3.clean(cleaned, tags=set()).strip():
        return None
    return Markup(cleaned)
