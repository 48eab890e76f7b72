"""Both sides of a story, end to end: fixture feeds of both capitals on loopback sites → ingest
(feeds, the Federal Register's JSON, the MFA list page) → stories → quotes → digest and email.

A story covered by both shows its coverage line and the two statements side by side; a story
covered by Chinese state media alone is flagged and listed under "Only one side is talking about".
"""

from __future__ import annotations

import json

from click.testing import CliRunner


def exported(settings, *args: str) -> list[dict]:
    from flows.cli import main

    result = CliRunner().invoke(main, ["export", "--config", str(settings.config_path), *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def test_every_source_is_read_and_knows_who_it_is(both_sides, sites):
    settings, report = both_sides
    by_source = {s.source: s.items_new for s in report.sources}
    assert by_source == {
        "Xinhua": 2,
        "Global Times": 1,
        "US Department of State": 1,
        "Federal Register (BIS rules)": 1,
        "AP": 1,
        "China MFA spokesperson": 2,
    }
    items = {i["title"]: i for i in exported(settings)}
    rule = items["Additions of Entities to the Entity List"]
    assert (rule["country"], rule["kind"], rule["side"]) == ("US", "official", "us")
    assert "twelve entities" in rule["text"]
    transcript = items["Foreign Ministry Spokesperson Lin Jian's Regular Press Conference on December 2, 2026"]
    assert (transcript["country"], transcript["kind"], transcript["side"]) == ("CN", "official", "china")
    assert "abusing export controls" in transcript["text"]
    # the list page was read politely: each article once, the list conditionally next time
    assert sites.servers["mfa"].hits("/eng/xw/fyrbt/lxjzh/202612/t20261202_11771001.html") == 1
    xinhua = items["China firmly opposes U.S. addition of Chinese entities to export control list"]
    assert (xinhua["outlet"], xinhua["country"], xinhua["kind"]) == ("Xinhua", "CN", "state")
    assert {(q["speaker"], q["text"][:20]) for q in xinhua["quotes"]} == {
        ("He Yongqian", "The U.S. side has ov"),
        ("He Yongqian", "China firmly opposes"),
    }
    q = xinhua["quotes"][0]
    assert xinhua["text"][q["start"] : q["end"]].strip("“”").startswith(q["text"][:30])
    assert q["role"] == "a spokesperson for the Ministry of Commerce"


def test_stories_carry_their_coverage(both_sides):
    settings, _ = both_sides
    stories = {s["title"]: s for s in exported(settings, "--stories")}
    entity = stories["China firmly opposes U.S. addition of Chinese entities to export control list"]
    assert entity["n_items"] == 3  # Xinhua, the State Department and AP: one story
    sides = entity["coverage"]["sides"]
    assert sides["us"]["outlets"] >= 2 and sides["china"]["outlets"] >= 1, entity
    assert entity["coverage"]["one_sided"] is False
    chips = next(s for s in stories.values() if "chip curbs backfire" in s["title"].lower())
    assert chips["n_items"] == 2
    assert chips["coverage"]["one_sided"] is True
    assert chips["coverage_line"] == "covered only by Chinese state media"


def test_rerunning_ingest_changes_nothing(both_sides):
    from flows import pipeline

    settings, _ = both_sides
    before = exported(settings)
    again = pipeline.run_ingest(settings, pipeline.IngestOptions(sources="feeds", force=True))
    assert again.items_new == 0 and again.quoted == 0
    assert exported(settings) == before


def test_digest_and_email_show_both_sides(both_sides, tmp_path):
    from flows import pipeline
    from flows.config import load_taxonomy
    from flows.deliver.email import build_message, to_bytes
    from flows.digest.render import render_email
    from flows.digest.select import arrange, load_digest_data
    from flows.store.items import as_utc
    from flows.store.digests import get_digest

    settings, _ = both_sides
    result = pipeline.run_digest(settings, pipeline.DigestOptions())
    page = result.html_path.read_text(encoding="utf-8")
    text = result.text_path.read_text(encoding="utf-8")
    for doc in (page, text):
        assert "US 2 · China state 1" in doc or "US 3 · China state 1" in doc, doc[:3000]
        assert "covered only by Chinese state media" in doc
    assert "Washington says" in page and "Beijing says" in page
    assert "WASHINGTON SAYS" in text and "BEIJING SAYS" in text
    assert "Marco Rubio" in page and "He Yongqian" in page
    assert "Only one side is talking about" in page and "ONLY ONE SIDE IS TALKING ABOUT" in text

    store = pipeline.store_for(settings)
    digest = get_digest(store, result.id)
    data = load_digest_data(
        store,
        settings,
        load_taxonomy(settings.issues_file),
        digest.id,
        digest.period,
        as_utc(digest.since),
        as_utc(digest.until),
    )
    email = render_email(arrange(data, None))
    assert len(email.html.encode("utf-8")) < 102_000
    assert "Washington says" in email.html and "Beijing says" in email.html
    assert "<style" in email.html and 'style="' in email.html  # inlined for mail clients
    assert "covered only by Chinese state media" in email.text and "WASHINGTON SAYS" in email.text
    message = to_bytes(
        build_message(
            email,
            from_address="d@localhost",
            to_address="a@example.org",
            to_name=None,
            digest_id=result.id,
            unsubscribe="mailto:d@localhost",
        )
    )
    assert b"text/plain" in message and b"text/html" in message
    (tmp_path / "email.html").write_text(email.html, encoding="utf-8")


def test_actors_command_lists_both_sides(both_sides):
    from flows.cli import main

    settings, _ = both_sides
    result = CliRunner().invoke(main, ["actors", "--config", str(settings.config_path), "--json"])
    assert result.exit_code == 0, result.output
    table = json.loads(result.output)
    assert table["us"][0]["name"] == "Marco Rubio" and table["us"][0]["quoted"] >= 2
    assert table["china"][0]["name"] == "He Yongqian"
    assert any(a["name"] == "Lin Jian" for a in table["china"])
