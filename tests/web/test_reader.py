"""The reader over HTTP (httpx against a real uvicorn): pages, escaping, CSRF, digest files, feeds
with ETag / Last-Modified and 304, and the feeds beside the archive read back by feedparser."""

from __future__ import annotations

import json

import feedparser
import httpx
import pytest

from tests.digest.newsroom import HOSTILE_TITLE


def test_pages_answer_and_escape_the_hostile_item(reader):
    base, _ = reader
    with httpx.Client(base_url=base) as web:
        home = web.get("/")
        assert home.status_code == 200 and "Archive" in home.text and "/digests/" in home.text
        assert "script-src" not in home.headers["content-security-policy"]  # no script allowed at all
        found = web.get("/search", params={"q": "taiwan"})
        assert found.status_code == 200 and "<mark>" in found.text
        hostile = web.get("/search", params={"q": "alert trade"})
        assert "<script" not in hostile.text and "<img" not in hostile.text and "<iframe" not in hostile.text
        assert "&lt;script&gt;" in hostile.text and "&lt;img src=x onerror=" in hostile.text  # shown as text
        bad = web.get("/search", params={"q": '"unclosed'})
        assert bad.status_code == 400 and "unbalanced quote" in bad.text
        assert web.get("/issue/taiwan").status_code == 200
        assert web.get("/issue/nope").status_code == 404
        assert web.get("/alerts").status_code == 200 and "taiwan-arms" in web.get("/alerts").text
        assert "a@example.org" not in web.get("/alerts").text  # recipients are not shown
        assert web.get("/digests/daily-2026-05-12.html").status_code in (200, 404)
        assert web.get("/digests/index.html").status_code == 200
        assert web.get("/digests/..%2Fconfig%2Fpipeline.yaml").status_code == 404
        assert web.get("/story/nope").status_code == 404


def test_label_form_refuses_forged_posts(reader):
    base, settings = reader
    from flows.pipeline import store_for
    from flows.store.labels import current_labels
    from flows.store.stories import story_sources

    item = story_sources(store_for(settings), "s-defence")[0].item_id
    before = current_labels(store_for(settings), item)
    with httpx.Client(base_url=base) as web:
        no_token = web.post("/story/s-defence/label", data={"item": item, "issue": "military", "action": "remove"})
        assert no_token.status_code == 403
        page = web.get("/story/s-defence").text
        token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
        cross = web.post(
            "/story/s-defence/label",
            headers={"Origin": "https://evil.example"},
            data={"item": item, "issue": "military", "action": "remove", "token": token},
        )
        assert cross.status_code == 403
        other_item = web.post(
            "/story/s-defence/label", data={"item": "x" * 16, "issue": "military", "action": "remove", "token": token}
        )
        assert other_item.status_code == 403  # a token is per item
    assert current_labels(store_for(settings), item) == before


def test_feeds_served_with_validators_and_written_beside_the_archive(reader):
    base, settings = reader
    with httpx.Client(base_url=base) as web:
        for name in ("latest", "issue-taiwan", "search-taiwan-arms"):
            atom = web.get(f"/feeds/{name}.atom")
            assert atom.status_code == 200 and atom.headers["content-type"].startswith("application/atom+xml")
            parsed = feedparser.parse(atom.content)
            assert not parsed.bozo, parsed.get("bozo_exception")
            assert parsed.entries and all(e.id.startswith("urn:uschina-digest:story:") for e in parsed.entries)
            again = web.get(f"/feeds/{name}.atom", headers={"If-None-Match": atom.headers["etag"]})
            assert again.status_code == 304 and not again.content
            since = web.get(f"/feeds/{name}.atom", headers={"If-Modified-Since": atom.headers["last-modified"]})
            assert since.status_code == 304
            stale = web.get(f"/feeds/{name}.atom", headers={"If-None-Match": '"other"'})
            assert stale.status_code == 200
            js = web.get(f"/feeds/{name}.json")
            doc = js.json()
            assert doc["version"] == "https://jsonfeed.org/version/1.1" and doc["items"]
            assert {i["id"] for i in doc["items"]} == {e.id for e in parsed.entries}
            assert_json_feed(doc)
        assert web.get("/feeds/issue-nope.atom").status_code == 404
        assert web.get("/feeds/search-nope.json").status_code == 404
    latest = feedparser.parse(web_get := (settings.digests_dir / "feeds" / "latest.atom").read_bytes())
    assert not latest.bozo and latest.entries, web_get[:300]
    arms = [e for e in latest.entries if e.id == "urn:uschina-digest:story:s-taiwan-arms"]
    assert arms and "Taiwan" in arms[0].title and {t.term for t in arms[0].tags} >= {"taiwan"}
    assert len(arms[0].contributors) == 4  # its four sources
    for path in (settings.digests_dir / "feeds").iterdir():
        if path.suffix == ".atom":
            assert not feedparser.parse(path.read_bytes()).bozo, path
        else:
            assert_json_feed(json.loads(path.read_bytes()))
    hostile = [e for e in latest.entries if "alert" in e.title]
    assert all(e.title == HOSTILE_TITLE for e in hostile)  # text, escaped by the serializer


def assert_json_feed(doc: dict) -> None:
    """JSON Feed 1.1's requirements (feedparser 6.0 reads no JSON Feed): version, title, items
    each with an id and content_text or content_html, dates in RFC 3339, strings where strings go."""
    from datetime import datetime

    assert doc["version"] == "https://jsonfeed.org/version/1.1" and isinstance(doc["title"], str)
    assert isinstance(doc["items"], list)
    for item in doc["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert isinstance(item.get("content_text") or item.get("content_html"), str)
        for key in ("date_published", "date_modified"):
            datetime.fromisoformat(item[key].replace("Z", "+00:00"))
        assert all(isinstance(t, str) for t in item.get("tags", []))
        assert all(isinstance(a["name"], str) for a in item.get("authors", []))


@pytest.mark.parametrize(
    "query,expect",
    [
        ('"arms package"', "s-taiwan-arms"),
        ("chip* -fentanyl source:diplomat", "s-chips"),
        ("issue:cyber", "s-hackers"),
    ],
)
def test_cli_search_json(reader_settings, query, expect):
    import json

    from click.testing import CliRunner

    from flows.cli import main

    result = CliRunner().invoke(main, ["search", "--config", str(reader_settings.config_path), "--json", query])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["stories"][0]["key"] == expect


def test_cli_search_parse_error_is_one_line(reader_settings):
    from click.testing import CliRunner

    from flows.cli import main

    result = CliRunner().invoke(main, ["search", "--config", str(reader_settings.config_path), "since:yesterday"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "is not a date" in result.output
