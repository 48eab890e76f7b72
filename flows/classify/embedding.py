"""Sentence embeddings from WordLlama's token vectors, which ship inside the `wordllama` wheel.

WordLlama (MIT) is a table of 32,000 token vectors (256 dimensions) distilled from a large
language model's input embeddings; a text's embedding is the mean of its tokens' vectors. It
runs on numpy, needs no network and embeds thousands of articles a second.

The table and the tokenizer are read here straight from the files in the installed package
rather than through `wordllama.WordLlama.load`: importing `wordllama` configures the root logger
(`logging.basicConfig(level=INFO)`), and 0.4.0.post1's loader looks for the tokenizer in a
folder the wheel does not have and then tries to download it. Reading the two files ourselves
keeps loading offline by construction. The files' SHA-256 are checked at load against the
pinned release's (pyproject pins wordllama exactly): another table under the same name would
give other embeddings, and the trained weights on top of them would be silently wrong.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import scipy.sparse as sp

WORDLLAMA_WEIGHTS = "weights/l2_supercat_256.safetensors"
WORDLLAMA_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
EMBEDDING_NAME = "wordllama-l2_supercat_256"
# As shipped in wordllama 0.4.0.post1 (the files' SHA-256; checking both costs ~15 ms at load).
WORDLLAMA_SHA256 = {
    WORDLLAMA_WEIGHTS: "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5",
    WORDLLAMA_TOKENIZER: "93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68",
}


class EmbeddingError(Exception):
    """The embedding model's files cannot be found or read (named in the message)."""


class Embedder:
    """Mean-pooled, L2-normalised token vectors: one vector per text."""

    def __init__(self, vectors: np.ndarray, tokenizer, name: str = EMBEDDING_NAME):
        self.vectors = np.ascontiguousarray(vectors)  # float16 as shipped: sums are taken in float32
        self.tokenizer = tokenizer
        self.name = name
        self.dim = int(self.vectors.shape[1])

    def embed(self, text: str) -> np.ndarray:
        return self.embed_many([text])[0]

    def embed_many(self, texts: list[str]) -> np.ndarray:
        """One vector per text: its tokens' vectors summed in float32 (a sparse count matrix times
        the table, so a batch costs one product), then L2-normalised; an empty text is zero."""
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        counts = sp.csr_matrix(
            (np.ones(len(ids), dtype=np.float32), np.clip(ids, 0, len(self.vectors) - 1), indptr),
            shape=(len(texts), len(self.vectors)),
        )
        sums = np.asarray(counts @ self._table, dtype=np.float32)
        norms = np.sqrt(np.einsum("ij,ij->i", sums, sums))
        return sums / np.where(norms > 0, norms, 1.0)[:, None]

    @functools.cached_property
    def _table(self) -> np.ndarray:
        return self.vectors.astype(np.float32)  # 32 MiB, made on first use


def wordllama_files() -> tuple[Path, Path]:
    """The token-vector table and tokenizer inside the installed `wordllama` package (found
    without importing it)."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError("the 'wordllama' package is not installed (uv sync installs it)")
    root = Path(next(iter(spec.submodule_search_locations)))
    weights, tokenizer = root / WORDLLAMA_WEIGHTS, root / WORDLLAMA_TOKENIZER
    for name, path in ((WORDLLAMA_WEIGHTS, weights), (WORDLLAMA_TOKENIZER, tokenizer)):
        if not path.exists():
            raise EmbeddingError(f"{path}: missing from the installed wordllama package")
        check_sha256(path, WORDLLAMA_SHA256[name])
    return weights, tokenizer


def check_sha256(path: Path, expected: str) -> None:
    """Raise EmbeddingError, in one line, unless the file's SHA-256 is `expected`."""
    with path.open("rb") as fh:
        found = hashlib.file_digest(fh, "sha256").hexdigest()
    if found != expected:
        raise EmbeddingError(
            f"{path}: SHA-256 {found[:16]}… is not the pinned wordllama release's "
            f"{expected[:16]}… (reinstall with `make install`)"
        )


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
    except Exception as e:  # safetensors and tokenizers raise their own error types
        raise EmbeddingError(f"cannot read the WordLlama model: {e}") from None
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return Embedder(vectors, tokenizer)
