"""Near-copy groups, the frozen split and `evaluate --cv K`: every item scored once by a model
refitted (thresholds included) without its fold."""

import json
import random

from click.testing import CliRunner

from flows.classify import splits, training
from flows.cli import main
from flows.config import load_taxonomy
from tests.classify.test_corrections_and_training import made_up_items
from tests.conftest import ROOT

ISSUES = ROOT / "config" / "issues.yaml"


def distinct_items(n: int) -> list[dict]:
    rng = random.Random(3)
    words = [f"w{k}" for k in range(3000)]
    return [{"id": f"x{k:03d}", "title": f"Headline {k}", "text": " ".join(rng.sample(words, 40))} for k in range(n)]


def test_near_copies_share_a_group_whatever_the_order():
    items = distinct_items(60)
    assert len(set(splits.near_copy_groups(items))) == 60
    copy = dict(items[3], id="a-rewrite", text=items[3]["text"] + " updated with more")
    both = items + [copy]
    groups = splits.near_copy_groups(both)
    assert groups[-1] == groups[3] == "a-rewrite" and len(set(groups)) == 60
    shuffled = both[:]
    random.Random(1).shuffle(shuffled)
    again = dict(zip([i["id"] for i in shuffled], splits.near_copy_groups(shuffled)))
    assert again == dict(zip([i["id"] for i in both], groups))


def test_the_frozen_split_is_a_fixed_fifth_of_the_groups_and_disjoint_from_the_rest():
    items = distinct_items(600)
    frozen, rest = splits.split(items, "frozen"), splits.split(items, "rest")
    assert len(frozen) + len(rest) == 600 and not {i["id"] for i in frozen} & {i["id"] for i in rest}
    assert 90 <= len(frozen) <= 150
    assert [i["id"] for i in splits.split(list(reversed(items)), "frozen")] == [i["id"] for i in reversed(frozen)]


def test_cross_validation_scores_every_item_once_with_refitted_thresholds():
    taxonomy = load_taxonomy(ISSUES)
    items = made_up_items(75)
    seen: list[str] = []
    result = training.cross_validate(taxonomy, items, folds=3, draws=[0, 1], log=seen.append)
    assert sorted(result) == [0, 1] and len(seen) == 6
    for pairs in result.values():
        assert [item["id"] for item, _ in pairs] == [i["id"] for i in items]
        hits = sum(
            set(item["issues"]) == set(pred.issue_ids) and item["relevant"] == pred.relevant for item, pred in pairs
        )
        assert hits >= 0.8 * len(items)  # the made-up topics are easy: a broken fold would show


def test_evaluate_cv_over_draws_prints_each_draw_and_their_spread(tmp_path):
    f = tmp_path / "labelled.jsonl"
    f.write_text("".join(json.dumps(i) + "\n" for i in made_up_items(60)))
    result = CliRunner().invoke(main, ["evaluate", str(f), "--cv", "3", "--draws", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "draw" in result.output and "mean" in result.output and "inner folds" in result.output
    as_json = CliRunner().invoke(main, ["evaluate", str(f), "--cv", "3", "--json", "--quiet"])
    figures = json.loads(as_json.output)
    assert set(figures["draws"]) == {"0"} and 0.7 <= figures["mean"]["macro_f1"]["mean"] <= 1.0
