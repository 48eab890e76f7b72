"""`evaluate --cv K`: every labelled item scored once by a model refitted without its fold."""

import json

from click.testing import CliRunner

from flows.classify import training
from flows.cli import main
from flows.config import load_taxonomy
from tests.classify.test_corrections_and_training import made_up_corpus
from tests.conftest import ROOT

ISSUES = ROOT / "config" / "issues.yaml"


NOT_RELEVANT = ["A bakery in Ohio won a prize.", "Rain is expected in Lisbon all week.",
                "The museum reopened after a long renovation.", "A new ferry line links two Norwegian towns.",
                "The marathon drew a record field of runners.", "Farmers in Kenya report a good harvest."]


def labelled_items(n: int, seed: int = 11) -> list[dict]:
    items = [{"id": f"l{k}", "title": it["title"], "text": it["text"], "relevant": True, "issues": [it["topic"]]}
             for k, it in enumerate(made_up_corpus(n, seed=seed))]
    return items + [{"id": f"n{k}", "title": f"Local news {k}", "text": text, "relevant": False, "issues": []}
                    for k, text in enumerate(NOT_RELEVANT)]


def test_near_copies_share_a_fold_and_folds_are_stable():
    items = labelled_items(30)
    distinct = len(set(training.near_copy_groups(items)))
    copy = dict(items[3], id="rewrite", text=items[3]["text"] + " Updated with more.")
    retitled = dict(items[7], id="same-title", text="Completely different words about nothing at all.")
    both = items + [copy, retitled]
    groups = training.near_copy_groups(both)
    assert groups[-2] == groups[3] and groups[-1] == groups[7]
    assert len(set(groups)) == distinct
    folds = training.cv_folds(both, 4)
    assert folds[-2] == folds[3] and folds[-1] == folds[7] and set(folds) == {0, 1, 2, 3}
    assert training.cv_folds(list(reversed(both)), 4) == list(reversed(folds))
    other = training.cv_folds(both, 4, draw=1)           # a second draw: other folds, same rules
    assert other != folds and other[-2] == other[3] and other[-1] == other[7]
    assert training.cv_folds(both, 4, draw=1) == other


def test_cross_validation_scores_every_item_once_with_refitted_thresholds():
    taxonomy = load_taxonomy(ISSUES)
    labelled = labelled_items(36)
    seen: list[str] = []
    result = training.cross_validate(taxonomy, made_up_corpus(150), labelled, folds=3, self_training=0,
                                     log=seen.append)
    assert [item["id"] for item, _ in result.pooled] == [i["id"] for i in labelled]
    assert len(seen) == 3 and all(line.startswith("fold ") for line in seen)
    assert sorted(set(result.fold_of)) == [0, 1, 2] and result.seconds > 0
    hits = sum(set(item["issues"]) == set(pred.issue_ids) and item["relevant"] == pred.relevant
               for item, pred in result.pooled)
    assert hits >= 0.8 * len(labelled)       # the made-up topics are easy: a broken fold would show


def test_evaluate_cv_prints_pooled_figures_and_the_caveat(tmp_path):
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps(i) + "\n" for i in labelled_items(24)))
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(i) + "\n" for i in made_up_corpus(90)))
    cfg = str(ROOT / "config" / "pipeline.yaml")
    out = CliRunner().invoke(main, ["evaluate", str(dev), "--cv", "2", "--corpus", str(corpus), "--config", cfg])
    assert out.exit_code == 0, out.output
    assert "2-fold cross-validation on 30 items (fold draw 0)" in out.output and "Not refitted" in out.output
    assert "macro-F1" in out.output and "mean over folds" in out.output
    both = CliRunner().invoke(main, ["evaluate", str(dev), "--cv", "2", "--model", str(tmp_path), "--config", cfg])
    assert both.exit_code != 0 and "--model" in both.output
    drawn = CliRunner().invoke(main, ["evaluate", str(dev), "--cv", "2", "--corpus", str(corpus), "--draw", "1",
                                      "--json", "--config", cfg])
    assert drawn.exit_code == 0, drawn.output
    assert json.loads(drawn.output)["draw"] == 1
    alone = CliRunner().invoke(main, ["evaluate", str(dev), "--draws", "2", "--config", cfg])
    assert alone.exit_code != 0 and "--draws needs --cv" in alone.output


def test_evaluate_cv_over_draws_runs_each_draw_as_alone_and_averages(tmp_path):
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps(i) + "\n" for i in labelled_items(24)))
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(i) + "\n" for i in made_up_corpus(90)))
    base = ["evaluate", str(dev), "--cv", "2", "--corpus", str(corpus), "--config", str(ROOT / "config" / "pipeline.yaml")]
    single = {d: json.loads(CliRunner().invoke(main, base + ["--draw", str(d), "--json"]).output) for d in (1, 2)}
    out = CliRunner().invoke(main, base + ["--draw", "1", "--draws", "2", "--json"])
    assert out.exit_code == 0, out.output
    both = json.loads(out.output)
    assert both["draws"] == [1, 2] and [d["draw"] for d in both["per_draw"]] == [1, 2]
    for d in both["per_draw"]:         # run in worker processes, the same figures as a draw run alone
        for key in ("macro_f1", "micro_f1", "relevance_f1"):
            assert d[key] == single[d["draw"]][key]
        assert d["issues"] == single[d["draw"]]["issues"]
    macro = both["mean"]["macro_f1"]
    assert abs(macro["mean"] - (single[1]["macro_f1"] + single[2]["macro_f1"]) / 2) <= 1e-4
    assert (macro["min"], macro["max"]) == tuple(sorted([single[1]["macro_f1"], single[2]["macro_f1"]]))
    assert set(both["mean"]["issues"]) == set(single[1]["issues"])
    for issue, f1 in both["mean"]["issues"].items():
        assert abs(f1["mean"] - (single[1]["issues"][issue]["f1"] + single[2]["issues"][issue]["f1"]) / 2) <= 1e-4
        assert f1["support"] == single[1]["issues"][issue]["support"]
    text = CliRunner().invoke(main, base + ["--draws", "2", "-q"])
    assert text.exit_code == 0, text.output
    assert "fold draws 0-1" in text.output and "\nmean " in text.output and "mean F1" in text.output
