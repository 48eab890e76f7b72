"""Sentence embeddings from WordLlama's token vectors, which ship inside the `wordllama` wheel.

WordLlama (MIT) is a table of 32,000 token vectors (256 dimensions) distilled from a large
language model's input embeddings; a text's embedding is the mean of its tokens' vectors. It
runs on numpy, needs no network and embeds thousands of articles a second.

The table and the tokenizer are read here straight from the files in the installed package
rather than through `wordllama.WordLlama.load`: importing `wordllama` configures the root logger
(`logging.basicConfig(level=INFO)`), and 0.4.0.post1's loader looks for the tokenizer in a
folder the wheel does not have and then tries to download it. Reading the two files ourselves
keeps loading offline by construction, and lets a text be tokenised once so that the embedding
of any span of it (a passage, a sentence) is a difference of two running sums.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WORDLLAMA_WEIGHTS = "weights/l2_supercat_256.safetensors"
WORDLLAMA_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
EMBEDDING_NAME = "wordllama-l2_supercat_256"


class EmbeddingError(Exception):
    """The embedding model's files cannot be found or read (named in the message)."""


@dataclass
class TokenVectors:
    """A text tokenised once: each token's start offset and the running sum of token vectors."""

    starts: np.ndarray       # (T,) char offset where each token starts
    running: np.ndarray      # (T + 1, D) running[k] = sum of the first k token vectors


class Embedder:
    """Mean-pooled, L2-normalised token vectors: one vector per text or span of a text."""

    def __init__(self, vectors: np.ndarray, tokenizer, name: str = EMBEDDING_NAME):
        self.vectors = np.ascontiguousarray(vectors)      # float16 as shipped: sums are taken in float32
        self.tokenizer = tokenizer
        self.name = name
        self.dim = int(self.vectors.shape[1])

    def tokens(self, text: str) -> TokenVectors:
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        ids = np.clip(np.asarray(enc.ids, dtype=np.int64), 0, len(self.vectors) - 1)
        # A token's offsets include the space its "▁" stands for; it starts at the word.
        starts = np.fromiter((a + 1 if b > a + 1 and text[a].isspace() else a for a, b in enc.offsets),
                             dtype=np.int64, count=len(enc.offsets))
        running = np.zeros((len(ids) + 1, self.dim), dtype=np.float32)
        if len(ids):
            np.cumsum(self.vectors[ids], axis=0, dtype=np.float32, out=running[1:])
        return TokenVectors(starts, running)

    def span_vector(self, tv: TokenVectors, spans: list[tuple[int, int]]) -> np.ndarray:
        """Embedding of the text made of these character spans (zeros when they hold no token)."""
        total = np.zeros(self.dim, dtype=np.float32)
        count = 0
        for start, end in spans:
            a = int(np.searchsorted(tv.starts, start, "left"))
            b = int(np.searchsorted(tv.starts, end, "left"))
            if b > a:
                total += tv.running[b] - tv.running[a]
                count += b - a
        return _normalised(total)

    def embed(self, text: str) -> np.ndarray:
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        if not enc.ids:
            return np.zeros(self.dim, dtype=np.float32)
        ids = np.clip(np.asarray(enc.ids, dtype=np.int64), 0, len(self.vectors) - 1)
        return _normalised(self.vectors[ids].sum(axis=0, dtype=np.float32))

    def embed_many(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for n, enc in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            if enc.ids:
                ids = np.clip(np.asarray(enc.ids, dtype=np.int64), 0, len(self.vectors) - 1)
                out[n] = _normalised(self.vectors[ids].sum(axis=0, dtype=np.float32))
        return out


def _normalised(v: np.ndarray) -> np.ndarray:
    norm = float(np.sqrt(np.dot(v, v)))
    return v / norm if norm else v


def wordllama_files() -> tuple[Path, Path]:
    """The token-vector table and tokenizer inside the installed `wordllama` package (found
    without importing it)."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError("the 'wordllama' package is not installed (uv sync installs it)")
    root = Path(next(iter(spec.submodule_search_locations)))
    weights, tokenizer = root / WORDLLAMA_WEIGHTS, root / WORDLLAMA_TOKENIZER
    for path in (weights, tokenizer):
        if not path.exists():
            raise EmbeddingError(f"{path}: missing from the installed wordllama package")
    return weights, tokenizer


@functools.cache
def load_embedder() -> Embedder:
    """The shipped WordLlama embedder (loaded once per process: ~0.15 s, 16 MiB)."""
    from safetensors import safe_open
    from tokenizers import Tokenizer

    weights, tokenizer_file = wordllama_files()
    try:
        with safe_open(str(weights), framework="np", device="cpu") as fh:
            vectors = fh.get_tensor("embedding.weight")
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    except Exception as e:       # safetensors and tokenizers raise their own error types
        raise EmbeddingError(f"cannot read the WordLlama model: {e}") from None
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return Embedder(vectors, tokenizer)
