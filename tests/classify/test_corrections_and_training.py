"""Corrections override labels at once and become training data; `train` fits a real model."""

import hashlib
import json
import random

import pytest
from click.testing import CliRunner

from flows.classify import Classifier, load_classifier, training
from flows.classify.model import RELEVANT, load_model
from flows.cli import main
from flows.config import load_taxonomy
from flows.records import Classification, IssueLabel
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
    corrections.write_text(
        json.dumps({"id": ids[1], "add": ["health"], "note": "covid section"})
        + "\n"
        + json.dumps({"id": ids[2], "issue": "relevant", "action": "remove"})
        + "\n"
    )
    result = invoke("label", "--file", str(corrections), "--config", cfg)
    assert result.exit_code == 0, result.output
    assert "health" in {r.issue_id for r in labels_for(store, [ids[1]])[ids[1]]}

    rows = {r["id"]: r for r in corrected_items(store)}
    assert rows[item]["add"] == ["economy"] and rows[item]["remove"] == [drop]
    assert rows[ids[2]]["relevant"] is False and rows[ids[1]]["add"] == ["health"]
    # As training rows: the labels at the time with the analyst's adds and removes applied.
    issue_ids = load_taxonomy(ISSUES).ids
    current = Classification(True, 0.9, [IssueLabel(drop, 0.8), IssueLabel("trade", 0.7)])
    example = training.correction_example(rows[item], current, issue_ids)
    assert {i for i, v in example.labels.items() if v} == {RELEVANT, "economy", "trade"} - {drop} | (
        {"trade"} if drop != "trade" else set()
    )
    assert example.labels[drop] == 0 and example.weight == training.CORRECTION_WEIGHT
    assert training.correction_example(rows[ids[2]], current, issue_ids).labels == {RELEVANT: 0}


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
    assert corrected_items(store) == []  # all-or-nothing: the valid first line was not applied


# ------------------------------------------------------------------ training on a small made-up set

TOPICS = {
    "trade": [
        "Washington raised tariffs on Chinese steel",
        "the trade war with Beijing deepened",
        "China retaliated with tariffs on American soybeans",
    ],
    "taiwan": [
        "Taiwan's president thanked Washington for its support",
        "Beijing sent warplanes toward Taiwan",
        "the United States approved arms sales to Taiwan",
    ],
    "climate": [
        "the United States and China pledged to cut emissions",
        "climate envoys from Washington and Beijing met",
        "China and America agreed on climate cooperation",
    ],
}
FILLER = [
    "officials said on Monday",
    "analysts expect more to come",
    "the statement was brief",
    "markets were closed for the holiday",
    "the report was published in the morning",
]
ELSEWHERE = [
    "A bakery in Ohio won a prize",
    "Rain is expected in Lisbon all week",
    "The mayor opened a park",
    "A museum in Oslo reopened",
    "The local team won the cup",
]


def made_up_items(n: int, seed: int = 7) -> list[dict]:
    """Short labelled items; every trade item also mentions the made-up word "zorblat" (no taxonomy
    term), and a fifth of the items are about nothing in the taxonomy. Each ends with a line of
    distinct words, so no two are near-copies (which would share a fold)."""
    rng = random.Random(seed)
    items = []
    for k in range(n):
        tail = " ".join(f"q{rng.randrange(10**6)}" for _ in range(25))
        if k % 5 == 4:
            body = [rng.choice(ELSEWHERE), rng.choice(FILLER), tail]
            items.append(
                {
                    "id": f"i{seed}-{k}",
                    "title": f"Local news {k}",
                    "text": ". ".join(body) + ".",
                    "relevant": False,
                    "issues": [],
                }
            )
            continue
        topic = list(TOPICS)[k % 3]
        body = [rng.choice(TOPICS[topic]), rng.choice(FILLER), rng.choice(FILLER)]
        if topic == "trade":
            body.append("the zorblat question came up again")
        body.append(tail)
        items.append(
            {
                "id": f"i{seed}-{k}",
                "title": f"Report {k}",
                "relevant": True,
                "issues": [topic],
                "text": ". ".join(x[0].upper() + x[1:] for x in body) + ".",
            }
        )
    return items


def test_train_fits_saves_and_loads_a_model_that_learns_beyond_the_terms(project, tmp_path):
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(i) + "\n" for i in made_up_items(90)))
    out = tmp_path / "model"
    result = invoke(
        "train",
        "--labelled",
        str(labelled),
        "--no-store",
        "--out",
        str(out),
        "--config",
        str(project / "config" / "pipeline.yaml"),
    )
    assert result.exit_code == 0, result.output
    assert "model written to" in result.output and "trade" in result.output

    model = load_model(out)
    assert model.labels[0] == RELEVANT and {"trade", "taiwan", "climate"} <= set(model.labels)
    assert "fentanyl" not in model.labels  # no positives: decided by its terms alone
    record = model.meta["data"][0]
    assert record["file"] == "labelled.jsonl" and record["sha256"] == hashlib.sha256(labelled.read_bytes()).hexdigest()
    weights = model.word_weights("trade")
    filler = max(weights[model.vocabulary[w]] for w in ("monday", "brief", "holiday", "morning"))
    assert weights[model.vocabulary["zorblat"]] > filler + 0.1  # learned from the labels, not the taxonomy
    assert all(0.05 <= t <= 0.95 for t in model.thresholds.values())

    classifier = load_classifier(ISSUES, out)
    verdict = classifier.classify("Report", "Washington raised tariffs on Chinese steel. The zorblat question came up.")
    assert verdict.relevant and "trade" in verdict.issue_ids
    evidence = verdict.issues[0].evidence[0]
    full = "Report\n\nWashington raised tariffs on Chinese steel. The zorblat question came up."
    assert full[evidence.start : evidence.end] == evidence.text and evidence.terms
    assert not classifier.classify("Local news", "A museum in Oslo reopened. Officials said on Monday.").relevant
    assert classifier.version.startswith("linear-")


def test_an_issue_the_model_was_not_trained_for_is_decided_by_its_terms(tmp_path):
    taxonomy = load_taxonomy(ISSUES)
    model = training.train(taxonomy, made_up_items(90))
    classifier = Classifier(taxonomy, model)
    verdict = classifier.classify(
        "Fentanyl precursors: Washington presses Beijing",
        "The United States asked China to curb fentanyl precursor exports.",
    )
    assert verdict.relevant and "fentanyl" in verdict.issue_ids
    fentanyl = next(lab for lab in verdict.issues if lab.id == "fentanyl")
    assert any("fentanyl" in t.lower() for e in fentanyl.evidence for t in e.terms)


def test_a_threshold_in_the_taxonomy_overrides_the_learned_one():
    taxonomy = load_taxonomy(ISSUES)
    model = training.train(taxonomy, made_up_items(90))
    strict = taxonomy.model_copy(deep=True)
    strict.get("trade").threshold = 1.0
    text = ("US and China trade barbs", "Washington raised tariffs on Chinese steel. The zorblat question came up.")
    assert "trade" in Classifier(taxonomy, model).classify(*text).issue_ids
    assert "trade" not in Classifier(strict, model).classify(*text).issue_ids


def test_a_correction_trains_the_next_model(ingested, tmp_path):
    settings, store, ids, cfg = ingested
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(i) + "\n" for i in made_up_items(60)))
    assert invoke("label", ids[0], "--add", "people", "--config", cfg).exit_code == 0
    out = tmp_path / "model"
    result = invoke("train", "--labelled", str(labelled), "--out", str(out), "--config", cfg)
    assert result.exit_code == 0, result.output
    model = load_model(out)
    assert model.meta["examples"] == {"labelled": 60, "corrections": 1}
    assert {"store_corrections": 1} in model.meta["data"]


def test_packaged_model_records_its_data_and_holds_no_labelled_text():
    from flows.classify import PACKAGED_MODEL

    model = load_model(PACKAGED_MODEL)
    files = {d["file"]: d for d in model.meta["data"]}
    assert set(files) == {"nyt-train.jsonl", "nyt-dev.jsonl"} and all(len(d["sha256"]) == 64 for d in files.values())
    assert model.meta["examples"]["labelled"] == 1650
    size = sum(p.stat().st_size for p in PACKAGED_MODEL.iterdir())
    assert size < 3_000_000
    blob = (PACKAGED_MODEL / "model.json").read_text()
    assert "nyt-1" not in blob  # no item ids; the vocabulary is words and pairs only
    assert max(len(w.split()) for w in model.vocabulary) == 2


def test_a_broken_model_folder_is_a_clear_error(tmp_path):
    from flows.classify.model import ModelError

    (tmp_path / "model.json").write_text("{}")
    (tmp_path / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="cannot read the classifier model"):
        load_classifier(ISSUES, tmp_path)
    (tmp_path / "weights.npz").unlink()
    with pytest.raises(ModelError, match="run `uschina-digest train`"):
        load_classifier(ISSUES, tmp_path / "nowhere")
