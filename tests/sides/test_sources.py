"""The new source types on their own: the Federal Register's documents JSON, list pages, the
catalogue's lookups and a feed's own country/kind, coverage lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.outlets import Source, load_catalogue
from flows.outlets.coverage import Coverage
from flows.sources.feedparse import parse_feed
from flows.sources.listpage import parse_list_page

TESTDATA = Path(__file__).parent / "testdata"
ROOT = Path(__file__).resolve().parents[2]


def test_federal_register_documents_become_entries():
    body = (
        (TESTDATA / "federalregister.json")
        .read_text()
        .replace("{base}", "https://www.federalregister.gov")
        .replace("{date}", "2026-12-02")
        .encode()
    )
    parsed = parse_feed(
        body, "https://www.federalregister.gov/api/v1/documents.json", {"content-type": "application/json"}
    )
    assert parsed.kind == "federal-register"
    [entry] = parsed.entries
    assert entry.title == "Additions of Entities to the Entity List"
    assert entry.guid == "federalregister:2026-24101"
    assert entry.link.endswith("/2026-24101/additions-of-entities-to-the-entity-list")
    assert entry.published.isoformat() == "2026-12-02T12:00:00+00:00"
    assert entry.author == "Commerce Department, Industry and Security Bureau"
    assert "twelve entities" in entry.content_text and entry.summary_html.startswith("<p>Rule.</p>")


def test_federal_register_hostile_values_are_text():
    body = json.dumps(
        {
            "results": [
                {
                    "title": "<script>x</script>Rule",
                    "abstract": "<b>a</b> & b",
                    "html_url": "javascript:alert(1)",
                    "agencies": ["BIS", {"name": None}],
                },
                "not a document",
            ]
        }
    ).encode()
    parsed = parse_feed(body, "https://www.federalregister.gov/api/v1/documents.json", {})
    [entry] = parsed.entries
    assert entry.link is None and "<b>" not in entry.summary_html and "&lt;b&gt;" in entry.summary_html
    assert parsed.problem == "Federal Register result that is not an object"


def test_list_page_links_by_pattern_and_by_shape():
    body = (TESTDATA / "mfa_list.html").read_bytes()
    url = "https://www.fmprc.gov.cn/eng/xw/fyrbt/lxjzh/"
    parsed = parse_list_page(body, url, {"content-type": "text/html"}, r"/lxjzh/\d{6}/t\d+_\d+\.html$")
    assert [e.link for e in parsed.entries] == [
        url + "202612/t20261202_11771001.html",
        url + "202612/t20261201_11770501.html",
    ]
    assert parsed.entries[0].title.startswith("Foreign Ministry Spokesperson Lin Jian's Regular Press Conference")
    # without a pattern: deeper links with a few words of text (not "Next", "Home", the Chinese site)
    assert [e.link for e in parse_list_page(body, url, {}).entries] == [e.link for e in parsed.entries]


def test_list_page_without_links_says_so():
    parsed = parse_list_page(b"<html><body><p>nothing</p></body></html>", "https://x.example/list/", {})
    assert parsed.entries == [] and parsed.problem == "no article links found on the list page"


def test_catalogue_matches_subdomains_and_feed_settings_win():
    catalogue = load_catalogue(ROOT / "config" / "outlets.yaml")
    assert len(catalogue.outlets) >= 900
    assert catalogue.identify("https://english.news.cn/20261202/c.html") == Source("Xinhua", "CN", "state")
    assert catalogue.identify("https://www.bbc.co.uk/news/world-asia-china-1") == Source("BBC News", "GB", "public")
    assert catalogue.identify("https://www.federalregister.gov/d/2026-1").kind == "official"
    assert catalogue.identify("https://www.rt.com/news/1/").country == "RU"  # from the matrix
    assert (
        catalogue.identify("https://news.example.org/a", "https://www.scmp.com/rss/91/feed").outlet
        == "South China Morning Post"
    )  # the feed's host
    assert catalogue.identify("https://www.scmp.com/x", country="US", kind="wire") == Source(
        "South China Morning Post", "US", "wire"
    )  # a feed's own settings
    assert catalogue.country_name("TW") == "Taiwan"


def test_bad_catalogue_is_one_clear_line(tmp_path):
    from flows.config import ConfigError

    path = tmp_path / "outlets.yaml"
    path.write_text("outlets:\n  - {name: X, domains: [x.org], country: China, kind: state}\n")
    with pytest.raises(ConfigError, match=r"outlets.yaml: outlets.0.country: String should match pattern"):
        load_catalogue(path)


def test_coverage_lines():
    us = Source("AP", "US", "wire")
    gov = Source("US Department of State", "US", "official")
    xinhua, gt = Source("Xinhua", "CN", "state"), Source("Global Times", "CN", "state")
    bbc = Source("BBC News", "GB", "public")
    both = Coverage.of([us, gov, xinhua, xinhua, bbc])
    assert both.line() == "US 2 · China state 1 · other 1" and not both.one_sided
    assert Coverage.of([xinhua, gt, xinhua]).line() == "covered only by Chinese state media"
    assert Coverage.of([xinhua, gt]).one_sided
    assert Coverage.of([gov]).line() == "covered only by US officials"
    assert Coverage.of([us, bbc]).line() == "US 1 · other 1 · no Chinese source"
    assert Coverage.of([bbc]).line() == "other 1" and not Coverage.of([bbc]).one_sided
    assert Coverage.of([Source("seeds", None, None)]).line() == ""
