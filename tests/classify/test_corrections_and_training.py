"""Corrections override labels at once and become training data; `train` fits a real model."""

import json
import random

import pytest
from click.testing import CliRunner

from flows.classify import load_classifier
from flows.classify import training
from flows.classify.model import RELEVANT, load_model
from flows.cli import main
from flows.config import load_taxonomy
from flows.pipeline import run_ingest, store_for
from flows.store.items import labels_for
from flows.store.labels import corrected_items, stored_texts
from tests.conftest import ROOT

ISSUES = ROOT / "config" / "issues.yaml"


def invoke(*args, **kw):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, **kw)


@pytest.fixture
def ingested(project, settings):
    run_ingest(settings)
    store = store_for(settings)
    ids = [i["id"] for i in stored_texts(store)]
    assert len(ids) == 5
    return settings, store, ids, str(project / "config" / "pipeline.yaml")


def test_label_overrides_at_once_and_feeds_training(ingested, tmp_path):
    settings, store, ids, cfg = ingested
    item = ids[0]
    before = {row.issue_id for row in labels_for(store, [item])[item]}
    drop = sorted(before)[0]
    result = invoke("label", item, "--add", "economy", "--remove", drop, "--config", cfg)
    assert result.exit_code == 0, result.output
    after = {row.issue_id: row.origin for row in labels_for(store, [item])[item]}
    assert after["economy"] == "correction" and drop not in after
    assert "economy (correction" in result.output

    # An import file: one line per item, both shapes accepted.
    corrections = tmp_path / "c.jsonl"
    corrections.write_text(json.dumps({"id": ids[1], "add": ["health"], "note": "covid section"}) + "\n"
                           + json.dumps({"id": ids[2], "issue": "relevant", "action": "remove"}) + "\n")
    result = invoke("label", "--file", str(corrections), "--config", cfg)
    assert result.exit_code == 0, result.output
    assert "health" in {r.issue_id for r in labels_for(store, [ids[1]])[ids[1]]}

    rows = {r["id"]: r for r in corrected_items(store)}
    assert rows[item]["add"] == ["economy"] and rows[item]["remove"] == [drop]
    assert rows[ids[2]]["relevant"] is False and rows[ids[1]]["add"] == ["health"]
    examples = training.correction_examples(list(rows.values()))
    by_text = {e.text: e.labels for e in examples}
    assert by_text[rows[item]["text"]] == {"economy": 1, drop: 0, RELEVANT: 1}
    assert by_text[rows[ids[2]]["text"]] == {RELEVANT: 0}
    assert all(e.weight == training.WEIGHTS["correction"] for e in examples)


def test_label_errors_are_clear_and_change_nothing(ingested, tmp_path):
    settings, store, ids, cfg = ingested
    bad_issue = CliRunner().invoke(main, ["label", ids[0], "--add", "weather", "--config", cfg])
    assert bad_issue.exit_code != 0 and "unknown issue id(s): weather" in bad_issue.output
    bad_item = CliRunner().invoke(main, ["label", "nope", "--add", "trade", "--config", cfg])
    assert bad_item.exit_code != 0 and "no stored item with id 'nope'" in bad_item.output
    nothing = CliRunner().invoke(main, ["label", ids[0], "--config", cfg])
    assert nothing.exit_code != 0 and "nothing to do" in nothing.output
    f = tmp_path / "c.jsonl"
    f.write_text(json.dumps({"id": ids[0], "add": ["trade"]}) + "\n{oops\n")
    bad_file = CliRunner().invoke(main, ["label", "--file", str(f), "--config", cfg])
    assert bad_file.exit_code != 0 and ":2:" in bad_file.output
    f.write_text(json.dumps({"id": ids[0], "add": ["trade"]}) + "\n" + json.dumps({"id": "ghost", "add": ["trade"]}))
    bad_file = CliRunner().invoke(main, ["label", "--file", str(f), "--config", cfg])
    assert bad_file.exit_code != 0 and "ghost" in bad_file.output
    assert corrected_items(store) == []          # all-or-nothing: the valid first line was not applied


# ------------------------------------------------------------------ training on a small made-up corpus

TOPICS = {
    "trade": ["Washington raised tariffs on Chinese steel", "the trade war with Beijing deepened",
              "China retaliated with tariffs on American soybeans"],
    "taiwan": ["Taiwan's president thanked Washington for its support", "Beijing sent warplanes toward Taiwan",
               "the United States approved arms sales to Taiwan"],
    "climate": ["the United States and China pledged to cut emissions", "climate envoys from Washington and "
                "Beijing met", "China and America agreed on climate cooperation"],
}
FILLER = ["officials said on Monday", "analysts expect more to come", "the statement was brief",
          "markets were closed for the holiday", "the report was published in the morning"]


def made_up_corpus(n: int, seed: int = 7) -> list[dict]:
    """Short items; every trade item also mentions the made-up word "zorblat" (no taxonomy term)."""
    rng = random.Random(seed)
    items = []
    for k in range(n):
        topic = list(TOPICS)[k % 3]
        body = [rng.choice(TOPICS[topic]), rng.choice(FILLER), rng.choice(FILLER)]
        if topic == "trade":
            body.append("the zorblat question came up again")
        items.append({"id": f"c{k}", "title": f"Report {k}", "text": ". ".join(s.capitalize() for s in body) + ".",
                      "topic": topic})
    return items


def test_train_fits_saves_and_loads_a_model_that_learns_beyond_the_terms(tmp_path):
    taxonomy = load_taxonomy(ISSUES)
    corpus = made_up_corpus(240)
    labelled = [{"id": f"l{k}", "title": it["title"], "text": it["text"], "relevant": True,
                 "issues": [it["topic"]]} for k, it in enumerate(made_up_corpus(45, seed=11))]
    labelled += [{"id": "n1", "title": "Bakery prize", "text": "A bakery in Ohio won a prize.", "relevant": False,
                  "issues": []},
                 {"id": "n2", "title": "Rain", "text": "Rain is expected in Lisbon all week.", "relevant": False,
                  "issues": []}]
    # A labelled item's copy in the corpus is dropped, so it cannot leak in as unlabelled text.
    copy = dict(labelled[0], id="copy", text=labelled[0]["text"] + " Updated.")
    kept, dropped = training.drop_near_duplicates(corpus + [copy], labelled)
    assert "copy" not in {k["id"] for k in kept} and dropped >= 1
    result = training.train(taxonomy, corpus + [copy], labelled, self_training=1, log=lambda m: None)
    assert result.counts["unlabelled"] == len(kept)
    assert result.out_of_fold and len(result.out_of_fold) == len(labelled)
    assert set(result.thresholds) == set(taxonomy.ids) and all(0.2 <= t <= 0.8 for t in result.thresholds.values())
    folder = training.save(result, tmp_path / "model")

    model, meta = load_model(folder)
    assert "trade" in model.labels and meta["stackers"]["issue"]["names"]
    k = model.labels.index("trade")
    zorblat = model.logits("The zorblat question came up again")[k]
    neutral = model.logits("The report was published in the morning")[k]
    assert zorblat > neutral + 1.0           # learned from co-occurrence, not from the taxonomy

    classifier = load_classifier(ISSUES, folder)
    result = classifier.classify("US and China trade barbs", "Washington raised tariffs on Chinese steel.")
    assert "trade" in result.issue_ids and 0 < result.issues[0].score <= 1
    assert classifier.version.startswith("hybrid-")


def test_packaged_model_loads_fast_and_holds_no_dev_text():
    from flows.classify import PACKAGED_MODEL

    model, meta = load_model(PACKAGED_MODEL)
    assert meta["stackers"]["relevance"]["names"]
    size = sum(p.stat().st_size for p in PACKAGED_MODEL.iterdir())
    assert size < 3_000_000
    blob = (PACKAGED_MODEL / "model.json").read_text()
    assert "nyt-" not in blob                 # no dev ids, and the vocabulary is words and pairs only
    assert max(len(w.split()) for w in model.vocab) == 2


def test_a_broken_model_folder_is_a_clear_error(tmp_path):
    from flows.classify.model import ModelError

    (tmp_path / "model.json").write_text("{}")
    with pytest.raises(ModelError, match="not a classifier model"):
        load_classifier(ISSUES, tmp_path)
