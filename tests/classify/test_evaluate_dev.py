"""The measured figures on the shared dev set, with floors a little under what the model scores.

The held-out split (one item in three, fixed by id hash) was never used to choose terms, weights
or thresholds, and neither it nor its near-copies in the corpus were trained on.
"""

import json

import pytest
from click.testing import CliRunner

from flows.classify import load_classifier
from flows.classify.evaluation import dev_split, evaluate, read_labelled
from flows.cli import main
from tests.conftest import ROOT, shared_path

FLOORS = {  # split: (macro-F1, relevance F1); measured 0.865 / 0.972 and 0.707 / 0.930
    "all": (0.84, 0.96),
    # 47 items, 4 issues in the macro: one diplomacy item (a score between the old threshold 0.35
    # and the suggested 0.42) moves macro-F1 from 0.749 to 0.707. The cross-validated figure
    # (`evaluate --cv 5`, README) is the estimate to watch; this floor only catches a collapse.
    "heldout": (0.69, 0.88),
}


@pytest.fixture(scope="module")
def dev():
    return read_labelled(shared_path("eval", "nyt-dev.jsonl"))


@pytest.fixture(scope="module")
def classifier():
    return load_classifier(ROOT / "config" / "issues.yaml")


@pytest.mark.parametrize("split", sorted(FLOORS))
def test_dev_set_figures_stay_above_their_floor(dev, classifier, split):
    report = evaluate(dev_split(dev, split), classifier.classify, classifier.taxonomy.ids)
    macro_floor, relevance_floor = FLOORS[split]
    assert report.macro_f1 >= macro_floor, report.summary()
    assert report.relevance_f1 >= relevance_floor, report.summary()


def test_held_out_split_is_fixed_and_disjoint(dev):
    train, held = dev_split(dev, "train"), dev_split(dev, "heldout")
    assert len(train) + len(held) == len(dev) and 35 <= len(held) <= 60
    assert not {i["id"] for i in train} & {i["id"] for i in held}
    assert [i["id"] for i in dev_split(list(reversed(dev)), "heldout")] == [i["id"] for i in reversed(held)]


def test_scores_are_calibrated_enough_to_mean_something(dev, classifier):
    """Labels scored high are right more often than labels scored near the threshold."""
    high, low = [], []
    for item in dev:
        if not item["relevant"]:
            continue
        result = classifier.classify(item["title"], item["text"])
        for label in result.issues:
            (high if label.score >= 0.8 else low).append(label.id in item["issues"])
    assert high and low
    assert sum(high) / len(high) >= 0.85
    assert sum(high) / len(high) > sum(low) / len(low)


def test_evaluate_command_prints_the_table_and_worst_errors(dev):
    path = shared_path("eval", "nyt-dev.jsonl")
    cfg = str(ROOT / "config" / "pipeline.yaml")
    result = CliRunner().invoke(main, ["evaluate", str(path), "--config", cfg, "--worst", "5"])
    assert result.exit_code == 0, result.output
    for needle in ("precision" if False else "P", "R", "F1", "support", "macro-F1", "micro-F1",
                   "relevance F1", "worst errors"):
        assert needle in result.output
    assert "diplomacy" in result.output and "(not in macro)" in result.output
    as_json = CliRunner().invoke(main, ["evaluate", str(path), "--config", cfg, "--split", "heldout", "--json"])
    assert as_json.exit_code == 0, as_json.output
    summary = json.loads(as_json.output)
    assert summary["items"] == len(dev_split(dev, "heldout"))
    assert set(summary["issues"]["trade"]) == {"precision", "recall", "f1", "support"}


def test_evaluate_rejects_unlabelled_items(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "1", "title": "t", "text": "no labels here"}\n')
    result = CliRunner().invoke(main, ["evaluate", str(path), "--config", str(ROOT / "config" / "pipeline.yaml")])
    assert result.exit_code != 0 and "neither 'relevant' nor 'issues'" in result.output
