"""The labelled same-story / different-story pairs and the items they name.

`pairs.jsonl` holds one labelled pair per line: `a`, `b` (NYT corpus ids, or `seed:<file>` for the
project's seeds), `same`, `kind`. How it was built is in `PAIRS.md` beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from flows.sources.seeds import read_seed
from tests.material import SHARED

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CORPUS = SHARED / "eval" / "nyt-corpus.jsonl"
SEEDS = ROOT / "seeds"
SEED_TIME = datetime(2026, 11, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class PairItem:
    id: str
    title: str
    text: str
    published: datetime


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same: bool
    kind: str


def load_pairs() -> list[Pair]:
    with (HERE / "pairs.jsonl").open(encoding="utf-8") as fh:
        return [Pair(r["a"], r["b"], r["same"], r["kind"]) for r in map(json.loads, fh) if r]


def load_items() -> dict[str, PairItem]:
    """Every NYT corpus item and every seed (seeds carry no date: they share one ingest time)."""
    items: dict[str, PairItem] = {}
    with CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            items[r["id"]] = PairItem(r["id"], r["title"], r["text"], datetime.fromisoformat(r["date"]))
    for path in sorted(SEEDS.glob("*.txt")):
        article = read_seed(path)
        key = f"seed:{path.name}"
        items[key] = PairItem(key, article.title, article.text, SEED_TIME)
    return items


@dataclass(frozen=True)
class Scores:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.3f} recall {self.recall:.3f} "
            f"(tp {self.tp} fp {self.fp} fn {self.fn} tn {self.tn})"
        )


def score(pairs: list[Pair], predicted_same) -> tuple[Scores, list[tuple[Pair, bool]]]:
    """Score a predicate over the pairs; also return the pairs it got wrong."""
    tp = fp = fn = tn = 0
    wrong = []
    for pair in pairs:
        guess = bool(predicted_same(pair))
        if guess and pair.same:
            tp += 1
        elif guess:
            fp += 1
            wrong.append((pair, guess))
        elif pair.same:
            fn += 1
            wrong.append((pair, guess))
        else:
            tn += 1
    return Scores(tp, fp, fn, tn), wrong
