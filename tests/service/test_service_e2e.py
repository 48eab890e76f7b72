"""End to end: `serve` against a real Prefect server — deployments, schedules from the YAML, runs
started the way the UI starts them, their artifacts and logs, parameter refusal, and the lease."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta

import pytest
from tests.service.harness import SCHEDULE_AFTER, SCHEDULE_BEFORE, Service, wait_for

pytestmark = pytest.mark.slow


def _interval_minutes(schedule: dict) -> float:
    return schedule["interval"] / 60


def test_deployments_and_schedules_follow_the_config(service: Service):
    for schedules, conf in ((service.schedules_before, SCHEDULE_BEFORE), (service.schedules_after, SCHEDULE_AFTER)):
        (ingest,) = schedules["ingest/scheduled"]
        assert _interval_minutes(ingest) == conf["ingest_interval_minutes"]
        assert ingest["timezone"] == conf["timezone"]
        # anchored at local midnight, so a 20-minute interval runs at :00, :20, :40
        anchor = datetime.fromisoformat(ingest["anchor_date"])
        assert (anchor.hour, anchor.minute) == (0, 0) or conf["timezone"] != "UTC"
        assert schedules["digest/daily"] == [{"cron": conf["daily_cron"], "timezone": conf["timezone"], "day_or": True}]
        assert schedules["digest/weekly"] == [
            {"cron": conf["weekly_cron"], "timezone": conf["timezone"], "day_or": True}
        ]
        assert schedules["ingest-shard/served"] == []
    # Stopping serve leaves the schedules running for the next serve (pause_on_shutdown=False).
    assert not any(service.paused_after_stop[name] for name in ("ingest/scheduled", "digest/daily", "digest/weekly"))
    deps = service.api.deployments()
    for name in ("ingest/scheduled", "digest/daily", "digest/weekly", "ingest-shard/served"):
        assert deps[name]["enforce_parameter_schema"] is True
        assert deps[name]["parameters"]["config_path"] == str(service.config)
        assert deps[name]["entrypoint"].startswith("flows.service.flows.")
    assert deps["digest/daily"]["parameters"]["period"] == "daily"
    assert deps["digest/weekly"]["parameters"]["period"] == "weekly"
    # That the server's scheduler plans runs from these schedules: test_schedules_planned.py (this
    # session's server has its scheduler off, so no planned ingest fires in the middle of a test).


def test_invalid_parameters_are_refused_with_the_reason(service: Service):
    api = service.api
    cases = [
        ("digest/daily", {"period": "hourly"}, "'hourly' is not one of ['daily', 'weekly']"),
        ("digest/daily", {"issues": ["taiwan", "space_race"]}, "'space_race' is not one of"),
        ("digest/daily", {"to": "not an address"}, "to"),
        ("digest/daily", {"since": "yesterday-ish"}, "since"),
        ("digest/daily", {"until": "2026-13-45 soon"}, "until"),
        ("digest/daily", {"config_path": "/etc/passwd"}, "config_path"),
        ("ingest/scheduled", {"max_items": 0}, "max_items"),
        ("ingest/scheduled", {"shards": 1000}, "shards"),
        (
            "ingest/scheduled",
            {"sources": "Not A Feed"},
            "'Not A Feed' is not one of ['all', 'seeds', 'feeds', 'Local A', 'Local B']",
        ),
    ]
    runs_before = len(api.runs())
    for deployment, params, reason in cases:
        response = api.create_run(deployment, params)
        assert response.status_code == 409, (params, response.text)
        assert "Validation failed" in response.json()["detail"] and reason in response.json()["detail"], response.text
    assert len(api.runs()) == runs_before  # nothing was created for the refused runs


@pytest.fixture(scope="module")
def ingested(service: Service, feed_server):
    """One ingest started from `ingest/scheduled` with custom parameters: both feeds in 2 shards."""
    response = service.api.create_run("ingest/scheduled", {"shards": 2, "force": True})
    assert response.status_code == 201, response.text
    run = service.api.wait(response.json()["id"], timeout=180)
    return run


def test_ingest_fans_out_by_feed_shard_and_reports_feed_health(service: Service, ingested, feed_server):
    api, run = service.api, ingested
    assert run["state"]["type"] == "COMPLETED", run["state"]
    children = [
        r
        for r in api.runs(parent_task_run_id={"is_null_": False})
        if r["name"].startswith("shard-") and r["name"].endswith("-of-2")
    ]
    assert len(children) == 2 and all(c["state"]["type"] == "COMPLETED" for c in children)
    shard_feeds = sorted(u for c in children for u in c["parameters"]["feeds"])
    assert shard_feeds == sorted([feed_server.url("a"), feed_server.url("b")])  # each feed in one shard
    assert all(c["parameters"]["parent_lease"] for c in children)  # run under the parent's lease

    artifacts = api.artifacts(run["id"])
    rows = {r["source"]: r for r in json.loads(artifacts["feed-health"]["data"])}
    assert set(rows) == {"seeds", "Local A", "Local B"}
    assert rows["seeds"]["new"] == 5
    assert all(rows[f]["status"] == "ok" for f in rows)
    # the three articles in both feeds were stored once: new in one shard, already stored in the other
    feed_new = rows["Local A"]["new"] + rows["Local B"]["new"]
    assert feed_new == feed_server.distinct_items
    assert feed_new + rows["Local A"]["seen"] + rows["Local B"]["seen"] == 12
    assert "**14 new** items" in artifacts["ingest-summary"]["data"]

    print(f"\ningest (2 shards): {api.timeline(run['id'])}")
    for child in children:
        print(f"  {child['name']}: {api.timeline(child['id'])}")

    # the pipeline's own log lines (logger `flows.pipeline`) reach the run's log in the UI;
    # a run's last lines are shipped as its process exits, just after the final state
    expected = ("flows.pipeline", "ingest: 14 new, 3 already stored, 14 classified")
    wait_for(
        lambda: expected in [(log["name"], log["message"]) for log in api.logs(run["id"])],
        15,
        f"the log line {expected}",
    )
    messages = [log["message"] for log in api.logs(run["id"])]
    assert any("fanning 2 feeds out to 2 runs of ingest-shard/served" in m for m in messages)
    assert any(m.startswith("ingest done: 14 new") for m in messages)


def test_digest_daily_custom_run_writes_the_digest_and_its_artifacts(service: Service, ingested):
    from flows.config import load_settings
    from flows.store import open_store
    from flows.store.digests import list_digests

    api = service.api
    params = {"issues": ["taiwan", "trade"], "since": "2000-01-01T00:00:00Z", "send": False}
    started = time.monotonic()
    response = api.create_run("digest/daily", params, name="custom-from-test")
    assert response.status_code == 201, response.text
    run = api.wait(response.json()["id"])
    elapsed = time.monotonic() - started
    assert run["state"]["type"] == "COMPLETED", run["state"]
    print(f"\ndigest/daily custom run: created → Completed in {elapsed:.1f}s: {api.timeline(run['id'])}")
    assert run["parameters"]["issues"] == ["taiwan", "trade"]

    settings = load_settings(service.config)
    (digest,) = [d for d in list_digests(open_store(settings.database_url)) if d.period == "custom"]
    assert set(digest.issue_counts) == {"taiwan", "trade"} and all(digest.issue_counts.values())
    html = settings.digests_dir / f"{digest.id}.html"
    assert html.is_file() and "Taiwan" in html.read_text()

    artifacts = api.artifacts(run["id"])
    table = json.loads(artifacts["digest-issues"]["data"])
    assert {row["id"]: row["stories"] for row in table} == digest.issue_counts
    assert all(row["items"] >= row["stories"] for row in table)
    summary = artifacts["digest-summary"]["data"]
    assert summary.startswith(f"# Digest {digest.id}")
    assert "## Taiwan" in summary and "## Trade" in summary and "## Technology" not in summary
    assert f"`{html}`" in summary  # where to read it
    # top stories are linked, their titles escaped for markdown
    assert re.search(
        r"^\d\. \[US warship sails through the Taiwan Strait; China protests \\\(report \d\\\)\]"
        r"\(http://127\.0\.0\.1:\d+/article/\d\) — Local [AB]$",
        summary,
        re.M,
    ), summary
    assert f"{digest.n_stories} stories" in summary


def test_an_ingest_started_while_another_holds_the_lease_is_skipped(service: Service, ingested):
    from flows.config import load_settings
    from flows.locks.guard import labelled, lease
    from flows.store import open_store

    store = open_store(load_settings(service.config).database_url)
    with labelled("test-holder"), lease(store, "ingest", ttl=timedelta(minutes=2)):
        response = service.api.create_run("ingest/scheduled", {"sources": "seeds"})
        run = service.api.wait(response.json()["id"])
    assert run["state"]["type"] == "COMPLETED" and run["state"]["name"] == "Skipped", run["state"]
    assert "another ingest run is in progress" in run["state"]["message"]
    assert "test-holder" in run["state"]["message"]
