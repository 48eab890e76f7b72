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
