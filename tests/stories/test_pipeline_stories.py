"""Stories through the real pipeline: `uschina-digest run`, `export` and the digest on the seeds."""

from __future__ import annotations

import json

from click.testing import CliRunner

from flows.cli import main


def test_run_groups_the_seed_rewrite_and_the_digest_shows_it_once(project):
    cfg = str(project / "config" / "pipeline.yaml")
    runner = CliRunner()
    first = runner.invoke(main, ["run", "--config", cfg])
    assert first.exit_code == 0, first.output

    exported = [json.loads(line) for line in runner.invoke(main, ["export", "--config", cfg]).stdout.splitlines()]
    story = {e["url"][:3]: e["story_id"] for e in exported}
    assert story["000"] == story["002"]
    assert len(set(story.values())) == 4

    digest_text = next((project / "digests").glob("*.txt")).read_text(encoding="utf-8")
    original_title = next(e["title"] for e in exported if e["url"].startswith("002"))
    rewrite_title = next(e["title"] for e in exported if e["url"].startswith("000"))
    # Five items, four stories: the rewrite is folded into its original, which represents it.
    assert "4 stories" in digest_text and "5 items" in digest_text
    assert rewrite_title not in digest_text
    for section in digest_text.split("\n== ")[1:]:
        assert section.count(original_title) <= 1

    report = project / "report.json"
    again = runner.invoke(main, ["ingest", "--config", cfg, "--report", str(report)])
    assert again.exit_code == 0
    assert json.loads(report.read_text())["stories"] == 0  # nothing new to group
    export = runner.invoke(main, ["export", "--config", cfg]).stdout
    exported_again = [json.loads(line) for line in export.splitlines()]
    assert {e["url"][:3]: e["story_id"] for e in exported_again} == story
