"""The WordLlama sentence embeddings: offline, span-consistent, and carried by a saved model."""

import json
import subprocess
import sys

import numpy as np
import pytest

from flows.classify import training
from flows.classify.embedding import load_embedder
from flows.classify.model import RELEVANT, ModelError, load_model
from tests.conftest import ROOT

TRADE = "Washington raised tariffs on Chinese steel and Beijing answered with duties on soybeans."
TRADE_TOO = "The trade war deepened as both countries imposed new import taxes on each other's goods."
BAKING = "Whisk the butter and sugar, then fold in the flour and bake the cake for forty minutes."


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_embeddings_load_from_the_installed_package_without_network_or_logging_side_effects():
    """Loaded in a fresh interpreter with an audit hook that records every socket connection:
    none is made, the `wordllama` package (whose import configures the root logger) is never
    imported, and the vectors come out."""
    code = (
        "import sys, logging\n"
        "connects = []\n"
        "sys.addaudithook(lambda event, args: connects.append(args) if event == 'socket.connect' else None)\n"
        "from flows.classify.embedding import load_embedder\n"
        "e = load_embedder()\n"
        "v = e.embed('Taiwan Strait tensions rise')\n"
        "print(len(connects), 'wordllama' in sys.modules, len(logging.root.handlers), e.dim, round(float(v @ v), 3))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "False", "0", "256", "1.0"]


def test_related_texts_are_closer_than_unrelated_ones():
    e = load_embedder()
    assert cosine(e.embed(TRADE), e.embed(TRADE_TOO)) > cosine(e.embed(TRADE), e.embed(BAKING)) + 0.1
    assert np.allclose(e.embed_many([TRADE, BAKING]), np.stack([e.embed(TRADE), e.embed(BAKING)]), atol=1e-6)
    assert not e.embed("").any()


def make_examples() -> list[training.Example]:
    china = [f"Beijing and Washington argued over {w} again today." for w in
             ("tariffs", "chips", "Taiwan", "visas", "fentanyl", "warships", "students", "climate")]
    other = [f"The {w} in Lisbon reopened after a long renovation." for w in
             ("museum", "bakery", "library", "stadium", "theatre", "market", "station", "school")]
    return ([training.Example("", t, {RELEVANT: 1, "trade": int("tariffs" in t)}, 1.0, "weak") for t in china * 3]
            + [training.Example("", t, {RELEVANT: 0}, 1.0, "weak") for t in other * 3])


def test_a_model_with_embeddings_saves_loads_and_scores_the_same_on_both_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "MIN_POSITIVES", 2)
    examples = make_examples()
    vocab, idf = training.build_vocabulary([(ex.joined, 0) for ex in examples])
    model = training.fit_text_model(examples, [RELEVANT, "trade"], vocab, idf)
    assert model.dense is not None and model.dense.shape == (256, 2)
    assert np.any(model.dense[:, 0]) and not np.any(model.dense[:, 1])   # only relevance reads it
    model.save(tmp_path)
    assert json.loads((tmp_path / "model.json").read_text())["embedding"]["name"] == model.embedder.name
    loaded, _ = load_model(tmp_path)
    text = "Beijing and Washington argued over export controls."
    assert np.allclose(loaded.logits(text), model.logits(text), atol=1e-2)
    ids = loaded.token_ids(text)
    assert ids.text_vector is not None
    assert np.allclose(loaded.span_logits(ids, [(0, len(text))]), loaded.logits(text), atol=1e-4)
    k = loaded.label_index(RELEVANT)
    assert loaded.logits(text)[k] > loaded.logits("The bakery in Lisbon reopened.")[k]

    without = training.fit_text_model(examples, [RELEVANT, "trade"], vocab, idf, embedding=False)
    assert without.dense is None and without.token_ids(text).text_vector is None


def test_embedding_weights_without_their_description_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "MIN_POSITIVES", 2)
    examples = make_examples()
    vocab, idf = training.build_vocabulary([(ex.joined, 0) for ex in examples])
    training.fit_text_model(examples, [RELEVANT], vocab, idf).save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["embedding"]["name"] = "some-other-embeddings"
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="some-other-embeddings"):
        load_model(tmp_path)
    del meta["embedding"]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="do not go together"):
        load_model(tmp_path)


# ---------------------------------------------------------------- the embedding head

TRADE_TITLES = ["Tariffs rise again on Chinese steel", "New duties hit American soybeans",
                "Beijing answers tariffs with tariffs", "Trade talks stall over import taxes"]
OTHER_TITLES = ["Warships shadow each other near the Spratlys", "Students wait for their visas",
                "Hackers breach a federal agency", "Climate envoys meet in Dubai"]


def head_examples(source: str = "labelled") -> list[training.Example]:
    return ([training.Example(t, "Officials on both sides spoke on Tuesday.", {RELEVANT: 1, "trade": 1}, 3.0, source)
             for t in TRADE_TITLES]
            + [training.Example(t, "Officials on both sides spoke on Tuesday.", {RELEVANT: 1, "trade": 0}, 3.0, source)
               for t in OTHER_TITLES])


def test_the_head_learns_from_labelled_items_and_corrections_only(monkeypatch):
    """Weak labels that say the opposite are left out: the head is there to learn the annotators'
    sense of an issue, not the terms'. An issue with fewer than two labelled positives gets no
    column (its head logit is then missing, i.e. neutral)."""
    monkeypatch.setattr(training, "MIN_POSITIVES", 2)
    gold = head_examples()
    contrary = [training.Example(ex.title, ex.text, {RELEVANT: 1, "trade": 1 - ex.labels["trade"]}, 50.0, "weak")
                for ex in gold]
    vocab, idf = training.build_vocabulary([(ex.joined, len(ex.title)) for ex in gold])
    model = training.fit_text_model(gold, [RELEVANT, "trade"], vocab, idf, embedding=False)
    head = training.fit_head(gold + contrary, ["trade", "taiwan"], model)
    assert head.head_labels == ["trade"] and head.head_coef.shape == (512, 1)
    e = head.embedder
    body = e.embed("Officials on both sides spoke on Tuesday.")
    on_trade = head.head_logits(e.embed("Washington doubles tariffs on Chinese goods"), body)["trade"]
    off_trade = head.head_logits(e.embed("A destroyer sails through the Taiwan Strait"), body)["trade"]
    assert on_trade > 0 > off_trade
    assert training.fit_head(contrary, ["trade"], model).head_coef is None      # weak labels alone: no head


def test_a_model_with_a_head_saves_loads_and_classifies_with_it(tmp_path, monkeypatch):
    """The head round-trips through the model folder, its logit is the stacker's fourth feature,
    and the lead passage is read with the title while a later passage is read without it."""
    from flows.classify import Classifier
    from flows.classify.features import ISSUE_FEATURES, clip_logit
    from flows.classify.text import passages, sentences
    from flows.config import load_taxonomy

    monkeypatch.setattr(training, "MIN_POSITIVES", 2)
    gold = head_examples()
    vocab, idf = training.build_vocabulary([(ex.joined, len(ex.title)) for ex in gold])
    model = training.fit_head(gold, ["trade"], training.fit_text_model(gold, [RELEVANT, "trade"], vocab, idf))
    model.save(tmp_path)
    loaded, _ = load_model(tmp_path)
    e = loaded.embedder
    title, body = e.embed(TRADE_TITLES[0]), e.embed("Officials met.")
    assert loaded.head_labels == ["trade"]
    assert abs(loaded.head_logits(title, body)["trade"] - model.head_logits(title, body)["trade"]) < 1e-4

    classifier = Classifier(load_taxonomy(ROOT / "config" / "issues.yaml"), loaded)
    long_body = "\n\n".join(["Officials on both sides spoke on Tuesday about many matters at length. " * 6] * 3)
    text = f"{TRADE_TITLES[0]}\n\n{long_body}"
    groups = passages(sentences(TRADE_TITLES[0], long_body))
    assert len(groups) >= 2
    views = classifier._head_views(TRADE_TITLES[0], text, dict(enumerate(groups)))
    assert views[0]["trade"] > views[1]["trade"]          # the title counts for the lead only
    scores = classifier.score(TRADE_TITLES[0], long_body)
    assert len(ISSUE_FEATURES) == 4 and len(scores.issue_rows["trade"]) == 4
    # the row kept is the best passage's, and its head feature is that passage's (clipped) view
    assert any(abs(scores.issue_rows["trade"][3] - clip_logit(v["trade"])) < 1e-4 for v in views.values())

    arrays = dict(np.load(tmp_path / "weights.npz"))
    arrays["head_intercept"] = np.zeros(3, np.float32)
    np.savez_compressed(tmp_path / "weights.npz", **arrays)
    with pytest.raises(ModelError, match="head"):
        load_model(tmp_path)


def test_suggested_thresholds_are_bootstrap_averaged_and_repeatable():
    """A cleanly separated issue gets a threshold between its classes; an issue with fewer than
    three positives keeps the default; the same rows always give the same thresholds."""
    from flows.classify.model import Stacker

    rows = training.StackRows()
    identity = Stacker(["p"], [1.0], 0.0)          # prob(x) = sigmoid(x): feed logits of chosen probs

    def add(issue: str, prob: float, gold: int):
        rows.issue_x.append([float(np.log(prob / (1 - prob)))])
        rows.issue_y.append(gold)
        rows.issue_ids.append(issue)

    for p in (0.70, 0.75, 0.8, 0.85, 0.9, 0.95):
        add("trade", p, 1)
    for p in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4) * 3:
        add("trade", p, 0)
    for p, y in ((0.9, 1), (0.8, 1), (0.1, 0), (0.2, 0)):
        add("people", p, y)
    first = training.suggest_thresholds(rows, identity, ["trade", "people"])
    assert 0.4 < first["trade"] <= 0.7
    assert first["people"] == 0.5
    assert training.suggest_thresholds(rows, identity, ["trade", "people"]) == first
