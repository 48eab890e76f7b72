"""Property tests for URL canonicalization (`flows.stories.canonical`, courlan-based): one spelling
per article whatever tracking, case, port, fragment or host dress a link wears, and never a crash."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flows.stories.canonical import canonical_url

PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

label = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
# A host whose own first label is a prefix the canonical form drops ("www.cn") is not a dressing.
host_label = label.filter(lambda s: not re.fullmatch(r"www\d?|m|mobile|amp", s))
host = st.builds(
    lambda parts, tld: ".".join([*parts, tld]),
    st.lists(host_label, min_size=1, max_size=3),
    st.sampled_from(["com", "org", "cn", "co.uk", "news"]),
)
segment = st.one_of(
    label,
    st.sampled_from(
        ["2026", "01", "world", "china", "amp", "index.html", "a b", "%E4%B8%AD", "..", ".", "", "news;jsessionid=1"]
    ),
)
path = st.lists(segment, max_size=5).map(lambda s: "/" + "/".join(s))
param = st.tuples(st.sampled_from(["id", "page", "q", "article", "p"]), st.text("abc123", min_size=1, max_size=5))
trackers = st.lists(
    st.sampled_from(
        ["utm_source=x", "utm_medium=rss", "utm_campaign=feed", "fbclid=abc", "gclid=1", "smid=tw-share", "ocid=rss"]
    ),
    max_size=3,
)


@st.composite
def article_urls(draw) -> tuple[str, str]:
    """(a plain article URL, the same article's URL dressed in tracking, case, port and fragment)."""
    h, p = draw(host), draw(path)
    params = draw(st.lists(param, max_size=3, unique_by=lambda kv: kv[0]))
    query = "&".join(f"{k}={v}" for k, v in params)
    plain = f"https://{h}{p}" + (f"?{query}" if query else "")
    extra = draw(trackers)
    dressed_query = "&".join(draw(st.permutations([*(f"{k}={v}" for k, v in params), *extra])))
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    dressed_host = draw(st.sampled_from(["", "www.", "WWW."])) + (h.upper() if draw(st.booleans()) else h)
    port = draw(st.sampled_from(["", ":443" if scheme.lower() == "https" else ":80"]))
    fragment = draw(st.sampled_from(["", "#comments", "#"]))
    dressed = f"{scheme}://{dressed_host}{port}{p}" + (f"?{dressed_query}" if dressed_query else "") + fragment
    return plain, dressed


@PROPS
@given(article_urls())
def test_dressing_does_not_change_the_canonical_form(pair: tuple[str, str]) -> None:
    plain, dressed = pair
    assert canonical_url(dressed) == canonical_url(plain)


@PROPS
@given(article_urls())
@example(("https://a0.com/amp/amp", "http://a0.com/amp/amp"))  # AMP markers removed in one pass
def test_canonical_form_is_stable_and_clean(pair: tuple[str, str]) -> None:
    canon = canonical_url(pair[1])
    if canon is None:
        return
    assert canonical_url(canon) == canon
    parts = urlsplit(canon)
    assert parts.scheme == "https" and not parts.fragment
    assert "utm_" not in parts.query and "fbclid" not in parts.query


@PROPS
@given(
    st.one_of(
        st.text(max_size=200),
        st.text(max_size=60).map(lambda s: "http://" + s),
        st.text(max_size=60).map(lambda s: "https://example.org/" + s),
    )
)
@example("javascript:alert(1)")
@example("data:text/html,<script>alert(1)</script>")
@example("http://[::1")
@example("http://" + "a" * 70000)
@example("https://exa\x00mple.org/")
@example("https://example.org:99999/")
def test_any_string_gives_an_https_url_or_none(raw: str) -> None:
    canon = canonical_url(raw)
    assert canon is None or canon.startswith("https://")
    if canon is not None:
        assert canonical_url(canon) == canon
