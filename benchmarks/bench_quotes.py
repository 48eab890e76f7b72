"""Quotations and speakers: precision and recall of (quote, speaker) pairs on the labelled set,
and extraction speed next to a baseline measured in the same run (finding the quoted spans only).

    .venv/bin/python benchmarks/bench_quotes.py           # dev and frozen parts
Targets (issue 20): precision >= 0.95, recall >= 0.85 (checked on all labelled pairs; the frozen
parts' first, held-out figures are in docs/sides.md).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.quotes import extract_quotes, quoted_spans  # noqa: E402
from flows.quotes.evaluation import evaluate, load_labelled  # noqa: E402

PAGES = ROOT.parent / "shared" / "fixtures" / "pages"
TARGET_PRECISION, TARGET_RECALL = 0.95, 0.85


def main() -> int:
    if not (PAGES / "ground-truth.json").exists():
        print(f"shared material missing: {PAGES}")
        return 1
    texts_all = []
    for part in ("dev", "frozen", "frozen2", "all"):
        if part == "all":
            texts = texts_all
        else:
            texts = load_labelled(ROOT / "tests" / "quotes" / "testdata" / f"labelled_{part}.jsonl", ROOT, PAGES)
            texts_all += texts
        score = evaluate(texts)
        print(
            f"{part:7s} {len(texts):3d} texts  {score.gold:4d} labelled pairs  precision {score.precision:.3f}  "
            f"recall {score.recall:.3f}  ({score.true_pos} right, {score.false_pos} wrong)"
        )
    ok = score.precision >= TARGET_PRECISION and score.recall >= TARGET_RECALL
    corpus = [t.text for t in texts_all] * 20
    chars = sum(len(t) for t in corpus)
    t0 = time.perf_counter()
    for text in corpus:
        quoted_spans(text)
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = sum(len(extract_quotes(text)) for text in corpus)
    took = time.perf_counter() - t0
    print(
        f"speed   {len(corpus)} texts, {chars / 1e6:.1f} M chars: extract_quotes {took:.2f} s "
        f"({len(corpus) / took:.0f} texts/s, {n} quotes); baseline quoted_spans only {base:.3f} s"
    )
    print(f"targets (all): precision >= {TARGET_PRECISION}, recall >= {TARGET_RECALL}: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
