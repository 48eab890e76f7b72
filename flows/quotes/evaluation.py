"""Precision and recall of (quotation, speaker) pairs against a hand-labelled set.

A labelled line (see tests/quotes/testdata/README.md) names a text and lists its quoted spans,
each a quotation with its speaker (one or more fair names), not a quotation (titles, terms), or a
quotation whose speaker the text leaves open. A predicted pair is right when its span overlaps a
labelled quotation by more than half of the shorter of the two and its speaker names the same
one: equal after dropping articles and case, or one's words all among the other's ("Dempsey" for
"Owen John Dempsey", "spokesperson" for "a WeWork spokesperson"). Pairs on open quotations
count neither way; pairs anywhere else are wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from flows.quotes import Quote, extract_quotes


@dataclass
class LabelledText:
    source: str
    text: str
    quotes: list[dict]  # {"start", "end", "text", "kind", "speaker": [names] | None}


@dataclass
class Score:
    true_pos: int = 0
    false_pos: int = 0
    gold: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        predicted = self.true_pos + self.false_pos
        return self.true_pos / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_pos / self.gold if self.gold else 1.0

    def add(self, other: "Score") -> None:
        self.true_pos += other.true_pos
        self.false_pos += other.false_pos
        self.gold += other.gold
        self.errors += other.errors

    def to_dict(self) -> dict:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "true_pos": self.true_pos,
            "false_pos": self.false_pos,
            "gold": self.gold,
        }


def load_labelled(path: Path, root: Path, pages: Path) -> list[LabelledText]:
    """Read a labelled set; texts come from the seeds folder under `root` or from the gold
    article bodies of `pages/ground-truth.json` (FileNotFoundError when that is absent)."""
    gold = None
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        source = row["source"]
        if source.startswith("pages:"):
            if gold is None:
                gold = json.loads((pages / "ground-truth.json").read_text(encoding="utf-8"))
            text = gold[source.removeprefix("pages:")]["articleBody"]
        else:
            text = (root / source).read_text(encoding="utf-8")
        if len(text) != row["chars"]:
            raise ValueError(f"{source}: text is {len(text)} characters, the labels were made on {row['chars']}")
        out.append(LabelledText(source, text, row["quotes"]))
    return out


def _words(name: str) -> list[str]:
    words = re.findall(r"[\w]+", name.lower().replace("’s", "").replace("'s", ""))
    return [w for w in words if w not in ("the", "a", "an", "another")]


def same_speaker(predicted: str, names: Iterable[str]) -> bool:
    got = _words(predicted)
    if not got:
        return False
    for name in names:
        want = _words(name)
        if got == want or (want and (set(got) <= set(want) or set(want) <= set(got))):
            return True
    return False


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    return inter > 0.5 * min(a[1] - a[0], b[1] - b[0])


def score_text(labelled: LabelledText, predicted: list[Quote]) -> Score:
    score = Score(gold=sum(1 for q in labelled.quotes if q["kind"] == "quote"))
    used: set[int] = set()
    for quote in predicted:
        match = next(
            (
                k
                for k, q in enumerate(labelled.quotes)
                if k not in used and _overlap((quote.start, quote.end), (q["start"], q["end"]))
            ),
            None,
        )
        if match is None:
            score.false_pos += 1
            score.errors.append(f"{labelled.source}: no labelled span for {quote.text[:50]!r} ({quote.speaker})")
            continue
        used.add(match)
        gold = labelled.quotes[match]
        if gold["kind"] == "open":
            continue
        if gold["kind"] == "quote" and same_speaker(quote.speaker, gold["speaker"]):
            score.true_pos += 1
        else:
            score.false_pos += 1
            want = "not a quotation" if gold["kind"] == "not_quote" else " | ".join(gold["speaker"])
            score.errors.append(f"{labelled.source}: {quote.text[:50]!r} → {quote.speaker!r}, labelled {want}")
    for k, q in enumerate(labelled.quotes):
        if q["kind"] == "quote" and not any(
            _overlap((p.start, p.end), (q["start"], q["end"])) and same_speaker(p.speaker, q["speaker"])
            for p in predicted
        ):
            if k not in used:
                score.errors.append(f"{labelled.source}: missed {q['text'][:50]!r} ({q['speaker'][0]})")
    return score


def evaluate(texts: list[LabelledText], extract: Callable[[str], list[Quote]] = extract_quotes) -> Score:
    """Precision and recall of an extractor's (quotation, speaker) pairs over labelled texts."""
    total = Score()
    for labelled in texts:
        total.add(score_text(labelled, extract(labelled.text)))
    return total
