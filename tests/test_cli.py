"""The CLI end to end on the seeds: run, idempotent re-run, ingest report, export, errors."""

import json

from click.testing import CliRunner

from flows.cli import main
from tests.conftest import write_config


def invoke(*args, **kw):
    result = CliRunner().invoke(main, list(args), **kw)
    return result


def test_run_twice_stores_nothing_twice_and_prints_digest_path(project):
    cfg = str(project / "config" / "pipeline.yaml")
    first = invoke("run", "--config", cfg)
    assert first.exit_code == 0, first.output
    path = first.stdout.strip().splitlines()[-1]
    assert path.endswith(".html") and (project / "digests" / path.rsplit("/", 1)[-1]).exists()
    assert "seeds: 5 new" in first.stderr

    report = project / "r.json"
    second = invoke("ingest", "--config", cfg, "--report", str(report))
    assert second.exit_code == 0
    data = json.loads(report.read_text())
    assert data["items_new"] == 0 and data["items_seen"] == 5
    assert data["sources"] == [{"source": "seeds", "status": "ok", "items_new": 0, "items_seen": 5, "error": None}]

    exported = [json.loads(line) for line in invoke("export", "--config", cfg).stdout.splitlines()]
    assert len(exported) == 5
    assert {e["url"][:3] for e in exported} == {"000", "001", "002", "003", "004"}
    assert all({"id", "source", "url", "title", "text", "published", "issues", "story_id"} <= set(e) for e in exported)
    assert any(i["id"] == "fentanyl" for e in exported if e["url"].startswith("004") for i in e["issues"])


def test_unreachable_feeds_fail_cleanly_and_run_succeeds(project):
    cfg = write_config(
        project,
        feeds=[{"url": "http://127.0.0.1:9/feed.xml", "name": "Closed port"}],
        fetch={"allow_private_addresses": True, "connect_timeout": 2, "read_timeout": 2},
    )
    result = invoke("ingest", "--config", str(cfg), "--report", str(project / "r.json"))
    assert result.exit_code == 0, result.output
    data = json.loads((project / "r.json").read_text())
    closed = [s for s in data["sources"] if s["source"] == "Closed port"][0]
    assert closed["status"] == "error" and closed["error"]
    assert sum(1 for line in result.stderr.splitlines() if "Closed port" in line) == 1


def test_invalid_config_is_one_clear_error_not_a_traceback(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("seeds_dir: null\ndigest: {period: hourly}\n")
    result = invoke("run", "--config", str(bad))
    assert result.exit_code != 0
    assert "digest.period" in result.output and "Traceback" not in result.output


def test_config_from_environment_variable(project):
    result = invoke("ingest", "-q", env={"USCHINA_DIGEST_CONFIG": str(project / "config" / "pipeline.yaml")})
    assert result.exit_code == 0, result.output
    assert (project / "data" / "uschina-digest.sqlite3").exists()


def test_help_documents_every_command():
    out = invoke("--help").output
    for command in ("run", "ingest", "digest", "classify", "export"):
        assert command in out
    assert "--report" in invoke("ingest", "--help").output


def test_second_ingest_while_one_runs_is_one_clear_line(project, settings):
    from flows.locks.guard import lease
    from flows.pipeline import store_for

    with lease(store_for(settings), "ingest"):
        result = invoke("ingest", "--config", str(project / "config" / "pipeline.yaml"))
    assert result.exit_code != 0
    assert "another ingest run is in progress" in result.output and "Traceback" not in result.output


def test_feeds_and_serve_commands_are_registered():
    assert "Feed health" in invoke("feeds", "--help").output
    assert "digest/daily" in invoke("serve", "--help").output
