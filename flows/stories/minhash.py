"""Near-duplicate candidates: MinHash signatures of word 3-gram shingles, banded for LSH.

Shingles are hashed with CRC-32 (stable across processes, unlike `hash()`), so the hashes can be
stored and compared later. datasketch computes the signature; the LSH bands are plain integers
that `flows/store/stories.py` keeps in an indexed table, so the index persists and a lookup costs
a few B-tree probes however large the store grows.

12 bands of 5 rows: a pair with Jaccard 0.8 becomes a candidate with probability 0.99, one with
Jaccard 0.4 with probability 0.12.
"""

from __future__ import annotations

import hashlib
import zlib
from functools import lru_cache

import numpy as np

SHINGLE_WORDS = 3
BANDS = 12
ROWS = 5
NUM_PERM = BANDS * ROWS


class _WordHashes(dict):
    """word -> CRC-32, computed on first sight."""

    def __missing__(self, word: str) -> int:
        h = zlib.crc32(word.encode("utf-8"))
        if len(self) < _WORD_CACHE_LIMIT:
            self[word] = h
        return h


_WORD_HASHES = _WordHashes()
_WORD_CACHE_LIMIT = 200_000
# Odd multipliers that mix the words of a shingle in order ("a b c" differs from "c b a").
_MIX = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D], dtype=np.uint64)


def shingle_hashes(tokens: list[str], k: int = SHINGLE_WORDS) -> np.ndarray:
    """Sorted unique 32-bit hashes of the k-word shingles (none for texts shorter than k words).

    Each word is hashed once (CRC-32, stable across processes); a shingle's hash mixes its words'
    hashes in order, so a text of n words costs n hashes, not n·k.
    """
    if len(tokens) < k:
        return np.zeros(0, dtype=np.uint32)
    w = np.fromiter(map(_WORD_HASHES.__getitem__, tokens), dtype=np.uint64, count=len(tokens))
    n = len(tokens) - k + 1
    mixed = np.zeros(n, dtype=np.uint64)
    for i in range(k):
        mixed = (mixed ^ w[i : i + n]) * _MIX[i]  # wraps modulo 2**64, as intended
        mixed ^= mixed >> np.uint64(29)
    hashes = np.sort((mixed >> np.uint64(32)).astype(np.uint32))
    # np.unique, without its general-purpose overhead (a third of this function's time)
    return hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))]


def containment(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the smaller shingle set found in the larger (1.0 for a truncated copy)."""
    if a.size == 0 or b.size == 0:
        return 0.0
    shared = np.intersect1d(a, b, assume_unique=True).size
    return shared / min(a.size, b.size)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0 or b.size == 0:
        return 0.0
    shared = np.intersect1d(a, b, assume_unique=True).size
    return shared / (a.size + b.size - shared)


@lru_cache(maxsize=1)
def _minhash_class():
    # Imported on first use: datasketch pulls in scipy, which text cleaning (which shares the
    # shingling and weighting helpers) should not pay for.
    from datasketch import MinHash

    return MinHash


@lru_cache(maxsize=1)
def _permutations():
    return _minhash_class()(num_perm=NUM_PERM, seed=1, scheme="affine32").permutations


def signature(shingles: np.ndarray) -> np.ndarray | None:
    """The MinHash signature of a shingle set (None when there is nothing to sign)."""
    if shingles.size == 0:
        return None
    m = _minhash_class()(num_perm=NUM_PERM, hashfunc=int, permutations=_permutations(), scheme="affine32")
    m.update_batch(shingles.tolist())
    return m.hashvalues


def band_keys(sig: np.ndarray | None) -> list[int]:
    """One signed 64-bit key per LSH band (what the persistent index stores)."""
    if sig is None:
        return []
    keys = []
    for band in range(BANDS):
        chunk = sig[band * ROWS : (band + 1) * ROWS].astype("<u4").tobytes()
        digest = hashlib.blake2b(bytes([band]) + chunk, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys
