"""The measured figures on the shared dev set, with floors a little under what the model scores.

The shipped model is trained on all 150 dev items, so its figure on them is a training-set figure:
its floor only catches a broken model or loader. What estimates unseen items is the *recipe*:
the held-out split (one item in three, fixed by id hash, never used to choose terms, weights or
thresholds) is scored by a model this test trains, with the shipped recipe, on the train split
alone (its near-copies in the corpus dropped), using that training's own suggested thresholds.
"""

import json

import pytest
import yaml
from click.testing import CliRunner

from flows.classify import load_classifier
from flows.classify.evaluation import dev_split, evaluate, read_labelled
from flows.cli import main
from tests.conftest import ROOT, shared_path

# The shipped model on all 150 (a training-set figure; measured 0.945 / 0.983).
FULL_SET_FLOOR = (0.93, 0.97)
# The recipe trained on the train split, on the held-out split (47 items, 4 issues in the macro,
# so one item moves macro-F1 by ~0.04; measured 0.812 / 0.955, training ~17 s with the whole
# corpus). The cross-validated figure (`evaluate --cv 5`, README) is the estimate to watch; this
# floor catches a broken recipe.
HELD_OUT_FLOOR = (0.78, 0.93)


@pytest.fixture(scope="module")
def dev():
    return read_labelled(shared_path("eval", "nyt-dev.jsonl"))


@pytest.fixture(scope="module")
def classifier():
    return load_classifier(ROOT / "config" / "issues.yaml")


def test_shipped_model_on_the_whole_dev_set_stays_above_its_floor(dev, classifier):
    report = evaluate(dev, classifier.classify, classifier.taxonomy.ids)
    assert report.macro_f1 >= FULL_SET_FLOOR[0], report.summary()
    assert report.relevance_f1 >= FULL_SET_FLOOR[1], report.summary()


@pytest.fixture(scope="module")
def recipe_on_train_split(tmp_path_factory):
    """`train` on the corpus and the train split into a tmp folder, and a config whose issue
    thresholds are the ones that training suggested (the config's own were fitted on all 150)."""
    corpus, labelled = shared_path("eval", "nyt-corpus.jsonl"), shared_path("eval", "nyt-dev.jsonl")
    folder = tmp_path_factory.mktemp("recipe")
    cfg = yaml.safe_load((ROOT / "config" / "pipeline.yaml").read_text())
    cfg.update(feeds=[], data_dir=str(folder / "data"), digests_dir=str(folder / "digests"), seeds_dir=None,
               issues_file=str(ROOT / "config" / "issues.yaml"))
    config = folder / "pipeline.yaml"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    trained = CliRunner().invoke(main, ["train", "--corpus", str(corpus), "--labelled", str(labelled),
                                        "--split", "train", "--no-store", "--out", str(folder / "model"),
                                        "--config", str(config), "--quiet"])
    assert trained.exit_code == 0, trained.output
    suggested = json.loads((folder / "model" / "model.json").read_text())["suggested_thresholds"]
    issues = yaml.safe_load((ROOT / "config" / "issues.yaml").read_text())
    for issue in issues["issues"]:
        issue["threshold"] = suggested[issue["id"]]
    (folder / "issues.yaml").write_text(yaml.safe_dump(issues, allow_unicode=True, sort_keys=False))
    cfg["issues_file"] = str(folder / "issues.yaml")
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return folder / "model", config


def test_recipe_trained_on_the_train_split_holds_on_the_held_out_split(dev, recipe_on_train_split):
    model, config = recipe_on_train_split
    out = CliRunner().invoke(main, ["evaluate", str(shared_path("eval", "nyt-dev.jsonl")), "--split", "heldout",
                                    "--model", str(model), "--config", str(config), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary["items"] == len(dev_split(dev, "heldout"))
    assert summary["macro_f1"] >= HELD_OUT_FLOOR[0], summary
    assert summary["relevance_f1"] >= HELD_OUT_FLOOR[1], summary


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
    for needle in ("P", "R", "F1", "support", "macro-F1", "micro-F1", "relevance F1", "worst errors"):
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
