"""Near-copy groups and the frozen test split of the labelled items.

A story filed in several versions must never sit on both sides of a split, or a model is graded
on what it memorised: items whose word-trigram MinHash (datasketch) estimates a Jaccard
similarity of at least 0.5 are one group, transitively. The frozen split is a fixed 20 % of the
groups, chosen by a hash of each group's smallest id, so it does not depend on the order or the
company of the items, and nothing is chosen while looking at it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from datasketch import MinHash, MinHashLSH

NEAR_COPY = 0.5
PERMUTATIONS = 128
FROZEN_PERCENT = 20
_WORD = re.compile(r"\w+")


def _minhash(text: str) -> MinHash:
    words = _WORD.findall(text.lower())
    m = MinHash(num_perm=PERMUTATIONS, seed=1)
    m.update_batch([" ".join(words[i : i + 3]).encode() for i in range(max(1, len(words) - 2))])
    return m


def near_copy_groups(items: Sequence[dict]) -> list[str]:
    """Each item's group key: the smallest id among the item and its near-copies."""
    ids = [str(item.get("id", n)) for n, item in enumerate(items)]
    lsh = MinHashLSH(threshold=NEAR_COPY, num_perm=PERMUTATIONS)
    hashes = []
    for key, item in zip(ids, items):
        m = _minhash(f"{item.get('title', '')} {item.get('text', '')}")
        hashes.append(m)
        lsh.insert(key, m)
    parent = {key: key for key in ids}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for key, m in zip(ids, hashes):
        for other in lsh.query(m):
            a, b = root(key), root(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return [root(key) for key in ids]


def is_frozen(group_key: str) -> bool:
    digest = hashlib.sha256(f"frozen:{group_key}".encode("utf-8")).hexdigest()
    return int(digest[:8], 16) % 100 < FROZEN_PERCENT


def split(items: Sequence[dict], part: str) -> list[dict]:
    """`part` is "frozen" (the test split: never trained or tuned on), "rest" (everything else,
    for cross-validation and fitting) or "all"."""
    if part == "all":
        return list(items)
    if part not in ("frozen", "rest"):
        raise ValueError(f"unknown split {part!r} (frozen, rest or all)")
    want = part == "frozen"
    return [item for item, group in zip(items, near_copy_groups(items)) if is_frozen(group) == want]
