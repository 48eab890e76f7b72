"""The WordLlama sentence embeddings: offline, and meaningful enough to be features."""

import subprocess
import sys

import numpy as np
from flows.classify.embedding import load_embedder
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
