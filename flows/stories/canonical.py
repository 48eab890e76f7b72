"""One spelling per article URL, so copies that differ only in tracking, AMP or mobile dress match.

courlan does the general normalisation (lower-case host, default port, sorted query, common tracker
parameters); on top of it we drop what courlan keeps but that never changes which article a URL
names: the fragment, `www.`/`m.`/`amp.` host prefixes, AMP path markers and share parameters.
The result is an identity key, not a URL to fetch.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan import normalize_url

# Share/attribution parameters courlan's tracker pattern does not know.
_EXTRA_TRACKERS = re.compile(
    r"^(?:smid|smtyp|cmpid|ocid|taid|share|shared|sr_share|ito|icid|ns_\w+|at_\w+|__twitter_impression"
    r"|s_cid|ftag|outputtype|amp|amp_js_v|usqp|_gl|guccounter|guce_\w+)$",
    re.IGNORECASE,
)
_HOST_PREFIX = re.compile(r"^(?:www\d?|m|mobile|amp)\.")
_AMP_SEGMENT = re.compile(r"/amp(?=/|$)")  # every /amp segment, /amp/amp included, in one pass
_AMP_SUFFIX = re.compile(r"\.amp(\.html?)?$")


def canonical_url(url: str | None) -> str | None:
    """The identity form of an article URL, or None if it is not an http(s) URL.

    Two URLs with the same canonical form name the same article (a feed's link and a social share
    link, the AMP page and the desktop page, `m.` and `www.`).
    """
    if not url:
        return None
    url = url.strip()
    if not re.match(r"^https?://", url, re.IGNORECASE):
        return None
    try:
        normalized = normalize_url(url)
    except (ValueError, TypeError):
        return None
    parts = urlsplit(normalized)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return None
    host = _HOST_PREFIX.sub("", host)
    path = parts.path or "/"
    path = posixpath.normpath(path) if path not in ("", "/") else "/"
    path = _AMP_SEGMENT.sub("", path) or "/"
    path = _AMP_SUFFIX.sub(lambda m: m.group(1) or "", path)
    path = re.sub(r"/{2,}", "/", path)
    if len(path) > 1:
        path = path.rstrip("/")
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _EXTRA_TRACKERS.match(k))
    )
    # One scheme: http and https versions of an article are the same article.
    return urlunsplit(("https", host, path, query, ""))
