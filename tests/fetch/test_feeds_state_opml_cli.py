"""Feed scheduling rules, OPML import/export, and the `feeds` command."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from click.testing import CliRunner

from feedtestkit import rss
from flows.cli.feeds import feeds as feeds_command
from flows.config import ConfigError, FeedSource, load_settings
from flows.sources.feedlist import all_feeds
from flows.sources.feeds import clean_link, clamp_published, http_min_interval, ingest_feeds
from flows.sources.opml import opml_text, read_opml
from flows.store.feeds import (
    BACKOFF_MAX_S,
    MIN_INTERVAL_CAP_S,
    FeedState,
    backoff_seconds,
    feed_health,
    is_due,
    load_states,
    mark_failure,
    mark_success,
    save_state,
)
from webserver import Response, static

NOW = datetime(2026, 2, 10, 12, 0, tzinfo=timezone.utc)


def test_backoff_doubles_up_to_a_day():
    assert [backoff_seconds(n) for n in range(5)] == [0, 600, 1200, 2400, 4800]
    assert backoff_seconds(30) == BACKOFF_MAX_S


def test_schedule_rules():
    state = FeedState(url="https://a.example/feed")
    assert is_due(state, NOW)
    mark_success(state, NOW, status=200, min_interval_s=3600, new_items=4)
    assert not is_due(state, NOW + timedelta(minutes=30))
    assert is_due(state, NOW + timedelta(minutes=59))  # within the grace
    mark_failure(state, NOW, error="HTTP 503 from a.example", status=503, retry_after_s=7200)
    assert state.next_due == NOW + timedelta(seconds=7200) and state.consecutive_failures == 1
    mark_failure(state, NOW, error="timeout")
    assert state.next_due == NOW + timedelta(seconds=3600)  # the feed's own interval is a floor
    mark_success(state, NOW, status=304, min_interval_s=10**9)
    assert state.min_interval_s == MIN_INTERVAL_CAP_S and state.consecutive_failures == 0
    assert state.items_total == 4 and state.last_error is None


def test_state_round_trips_through_the_store(store):
    state = FeedState(url="https://a.example/feed", name="A", etag='"x"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    mark_failure(state, NOW, error="HTTP 500 from a.example", status=500)
    save_state(store, state)
    loaded = load_states(store, [state.url, "https://new.example/"])
    assert loaded[state.url] == state
    assert loaded["https://new.example/"] == FeedState(url="https://new.example/")


def test_http_min_interval_and_dates():
    assert http_min_interval({"cache-control": "public, max-age=1800"}) == 1800
    assert http_min_interval({"cache-control": "no-cache"}) == 0
    assert (
        http_min_interval({"expires": "Tue, 10 Feb 2026 13:00:00 GMT", "date": "Tue, 10 Feb 2026 12:00:00 GMT"}) == 3600
    )
    assert http_min_interval({}) is None
    assert clamp_published(NOW + timedelta(days=3), NOW) == NOW
    assert clamp_published(NOW - timedelta(days=3), NOW) == NOW - timedelta(days=3)
    assert clamp_published(None, NOW) is None


def test_canonical_url():
    assert clean_link("HTTPS://Example.com/a/?utm_source=rss&b=2&a=1#comments") == "https://example.com/a/?a=1&b=2"
    assert clean_link("https://example.com") == "https://example.com/"


def test_opml_round_trip_nested_and_errors(tmp_path):
    path = tmp_path / "feeds.opml"
    path.write_text("""<?xml version="1.0"?><opml version="1.0"><head/><body>
      <outline text="News"><outline text="Wire &amp; Co" xmlUrl="https://wire.example/rss"/>
        <outline title="Titled" text="ignored" xmlUrl="https://t.example/feed"/></outline>
      <outline text="Folder only"/>
      <outline text="Off" xmlUrl="https://off.example/rss" isDisabled="true"/>
      <outline text="Duplicate" xmlUrl="https://wire.example/rss"/></body></opml>""")
    feeds = read_opml(path)
    assert [(f.url, f.name, f.enabled) for f in feeds] == [
        ("https://wire.example/rss", "Wire & Co", True),
        ("https://t.example/feed", "Titled", True),
        ("https://off.example/rss", "Off", False),
    ]
    again = tmp_path / "again.opml"
    again.write_text(opml_text(feeds))
    assert read_opml(again) == feeds
    bad = tmp_path / "bad.opml"
    bad.write_text('<opml><body>\n<outline xmlUrl="file:///etc/passwd"/></body></opml>')
    with pytest.raises(ConfigError, match="line 2: xmlUrl 'file:///etc/passwd' must be an http"):
        read_opml(bad)
    bad.write_text("<rss/>")
    with pytest.raises(ConfigError, match="not OPML"):
        read_opml(bad)
    bad.write_text("<opml><body>")
    with pytest.raises(ConfigError, match="XML error"):
        read_opml(bad)


def test_settings_read_feeds_from_opml(tmp_path):
    (tmp_path / "feeds.opml").write_text(
        opml_text(
            [FeedSource(url="https://o.example/rss", name="O"), FeedSource(url="https://y.example/rss", name="dup")]
        )
    )
    (tmp_path / "pipeline.yaml").write_text(
        yaml.safe_dump(
            {"seeds_dir": None, "feeds_opml": "feeds.opml", "feeds": [{"url": "https://y.example/rss", "name": "Y"}]}
        )
    )
    settings = load_settings(tmp_path / "pipeline.yaml")
    assert [(f.url, f.name) for f in all_feeds(settings)] == [
        ("https://y.example/rss", "Y"),
        ("https://o.example/rss", "O"),
    ]


def _config(tmp_path, feeds: list[dict], **extra) -> str:
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "seeds_dir": None,
                "feeds": feeds,
                "fetch": {"allow_private_addresses": True, "read_timeout": 0.5},
                **extra,
            }
        )
    )
    return str(path)


def test_feeds_command_shows_health_as_table_and_json(web, tmp_path):
    down = web.route("/down", Response(503, b"down"))  # its page: to be tried again later
    good = web.route("/good.xml", static(rss([{"title": "Fine", "guid": "g", "link": down, "description": "Fine."}])))
    bad = web.route("/bad.xml", Response(500, b"down"))
    config = _config(
        tmp_path,
        [
            {"url": good, "name": "Good feed"},
            {"url": bad, "name": "Bad feed"},
            {"url": web.url("/later.xml"), "name": "Never"},
        ],
    )
    settings = load_settings(config)
    from flows.pipeline import store_for

    ingest_feeds(settings, store_for(settings), all_feeds(settings)[:2])
    result = CliRunner().invoke(feeds_command, ["--config", config, "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["Good feed"]["health"] == "ok" and rows["Good feed"]["items_total"] == 1
    assert rows["Bad feed"]["health"] == "failing" and "HTTP 500" in rows["Bad feed"]["last_error"]
    assert rows["Bad feed"]["consecutive_failures"] == 1 and rows["Bad feed"]["due_now"] is False
    assert rows["Never"]["health"] == "never fetched"
    table = CliRunner().invoke(feeds_command, ["--config", config])
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split()[:3] == ["feed", "health", "last"]
    assert any(line.startswith("Bad feed") and "failing" in line and "HTTP 500" in line for line in lines)
    assert lines[-1].startswith("1 article page(s) could not be had and will be tried again")
    assert feed_health(store_for(settings))[0]["configured"] is True


def test_feeds_command_import_and_export_opml(web, tmp_path):
    config = _config(tmp_path, [{"url": "https://y.example/rss", "name": "Y"}], feeds_opml=None)
    source = tmp_path / "other-reader.opml"
    source.write_text(
        opml_text(
            [FeedSource(url="https://a.example/rss", name="A"), FeedSource(url="https://y.example/rss", name="Y again")]
        )
    )
    target = tmp_path / "feeds.opml"
    refused = CliRunner().invoke(feeds_command, ["import-opml", "--config", config, str(source)])
    assert refused.exit_code != 0 and "feeds_opml" in refused.output
    done = CliRunner().invoke(feeds_command, ["import-opml", "--config", config, str(source), "-o", str(target)])
    assert done.exit_code == 0 and "1 feed(s) added" in done.output
    assert [f.url for f in read_opml(target)] == ["https://a.example/rss"]
    exported = CliRunner().invoke(feeds_command, ["export-opml", "--config", config])
    assert exported.exit_code == 0 and 'xmlUrl="https://y.example/rss"' in exported.output
