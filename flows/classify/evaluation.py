"""Measuring the classifier against labelled items: per-issue P/R/F1, macro/micro-F1, relevance F1.

A labelled item is a JSON object with `title`, `text`, `relevant` and `issues` (ids). The counts
come from scikit-learn's `multilabel_confusion_matrix`; the same numbers are printed by
`uschina-digest evaluate` and asserted (with a floor) by the tests. Which items a figure is
measured on (training, cross-validated, frozen split) is the caller's to say: see `splits.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import multilabel_confusion_matrix

from flows.records import Classification

MACRO_MIN_SUPPORT = 3


def read_labelled(path: str | Path) -> list[dict]:
    """Items from a JSON-lines file; a bad line is an error naming the line."""
    items = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON: {e.msg}") from None
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError(f"{path}:{n}: expected an object with at least a 'text' string")
            items.append(item)
    return items


@dataclass
class IssueScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp else 0.0


@dataclass
class ItemError:
    item_id: str
    title: str
    missed: list[str]
    extra: list[str]
    relevance_error: str | None  # "missed" | "extra" | None
    cost: float


@dataclass
class Report:
    n_items: int
    issues: dict[str, IssueScore]
    relevance: IssueScore
    errors: list[ItemError] = field(default_factory=list)

    @property
    def macro_f1(self) -> float:
        scored = [s.f1 for s in self.issues.values() if s.support >= MACRO_MIN_SUPPORT]
        return sum(scored) / len(scored) if scored else 0.0

    @property
    def macro_issues(self) -> list[str]:
        return [i for i, s in self.issues.items() if s.support >= MACRO_MIN_SUPPORT]

    @property
    def micro(self) -> IssueScore:
        total = IssueScore()
        for s in self.issues.values():
            total.tp += s.tp
            total.fp += s.fp
            total.fn += s.fn
        return total

    @property
    def relevance_f1(self) -> float:
        return self.relevance.f1

    def summary(self) -> dict:
        return {
            "items": self.n_items,
            "macro_f1": round(self.macro_f1, 4),
            "micro_f1": round(self.micro.f1, 4),
            "relevance_f1": round(self.relevance_f1, 4),
            "macro_issues": self.macro_issues,
        }


def evaluate(items: list[dict], classify: Callable[[str, str], Classification], issue_ids: Iterable[str]) -> Report:
    """Score `classify` on labelled items; every id in `issue_ids` gets a row, even unseen ones."""
    return evaluate_pairs(((item, classify(item.get("title", ""), item["text"])) for item in items), issue_ids)


def evaluate_pairs(pairs: Iterable[tuple[dict, Classification]], issue_ids: Iterable[str]) -> Report:
    """Score predictions already made: (labelled item, its classification) pairs."""
    pairs = list(pairs)
    ids = list(dict.fromkeys([*issue_ids, *(i for item, r in pairs for i in [*item.get("issues", []), *r.issue_ids])]))
    gold = np.array([[int(i in item.get("issues", [])) for i in ["relevant", *ids]] for item, _ in pairs]).reshape(
        -1, len(ids) + 1
    )
    pred = np.array([[int(i in r.issue_ids) for i in ["relevant", *ids]] for _, r in pairs]).reshape(-1, len(ids) + 1)
    gold[:, 0] = [bool(item.get("relevant", bool(item.get("issues")))) for item, _ in pairs]
    pred[:, 0] = [r.relevant for _, r in pairs]
    counts = multilabel_confusion_matrix(gold, pred) if len(pairs) else np.zeros((len(ids) + 1, 2, 2), int)
    scores = [IssueScore(tp=int(c[1, 1]), fp=int(c[0, 1]), fn=int(c[1, 0])) for c in counts]
    errors: list[ItemError] = []
    for (item, result), g, p in zip(pairs, gold, pred):
        missed = sorted(i for i, a, b in zip(ids, g[1:], p[1:]) if a and not b)
        extra = sorted(i for i, a, b in zip(ids, g[1:], p[1:]) if b and not a)
        rel_err = None if g[0] == p[0] else ("missed" if g[0] else "extra")
        if missed or extra or rel_err:
            errors.append(
                ItemError(
                    str(item.get("id", "?")),
                    item.get("title", ""),
                    missed,
                    extra,
                    rel_err,
                    len(missed) + len(extra) + (1.5 if rel_err else 0),
                )
            )
    errors.sort(key=lambda e: (-e.cost, e.item_id))
    return Report(len(pairs), dict(zip(ids, scores[1:])), scores[0], errors)


def mean_over_draws(reports: dict[int, Report]) -> dict:
    """The mean over fold draws of macro-, micro- and relevance F1 (with macro-F1's min and max)
    and each issue's mean, min and max F1 and support (the draws share the items, so their
    supports are equal). Unrounded: `evaluate --cv K --draws N` prints and writes it."""

    def spread(values: list[float]) -> dict:
        return {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}

    first = next(iter(reports.values()))
    return {
        "macro_f1": spread([r.macro_f1 for r in reports.values()]),
        "micro_f1": spread([r.micro.f1 for r in reports.values()]),
        "relevance_f1": spread([r.relevance_f1 for r in reports.values()]),
        "issues": {
            issue: dict(spread([r.issues[issue].f1 for r in reports.values()]), support=s.support)
            for issue, s in sorted(first.issues.items(), key=lambda kv: (-kv[1].support, kv[0]))
        },
    }


def format_draws(reports: dict[int, Report], folds: int, seconds: float) -> str:
    """What `evaluate --cv K --draws N` prints: each fold draw's pooled figures, then
    `mean_over_draws`."""
    mean = mean_over_draws(reports)
    lines = [f"{'draw':<8}{'macro-F1':>10}{'micro-F1':>10}{'relevance F1':>14}"]
    lines += [f"{draw:<8}{r.macro_f1:>10.3f}{r.micro.f1:>10.3f}{r.relevance_f1:>14.3f}" for draw, r in reports.items()]
    macro = mean["macro_f1"]
    lines.append(
        f"{'mean':<8}{macro['mean']:>10.3f}{mean['micro_f1']['mean']:>10.3f}"
        f"{mean['relevance_f1']['mean']:>14.3f}   (macro-F1 min {macro['min']:.3f}, max {macro['max']:.3f})"
    )
    lines += ["", f"{'issue':<18}{'mean F1':>9}{'min':>7}{'max':>7}{'support':>9}"]
    for issue, f1 in mean["issues"].items():
        mark = "" if f1["support"] >= MACRO_MIN_SUPPORT else "  (not in macro)"
        lines.append(f"{issue:<18}{f1['mean']:>9.3f}{f1['min']:>7.3f}{f1['max']:>7.3f}{f1['support']:>9}{mark}")
    lines += [
        "",
        f"{len(reports)} draws of {folds} folds in {seconds:.0f} s. Refitted per fold: vocabulary, weights, "
        "thresholds (by inner folds); not refitted: the taxonomy's terms, weights and vetoes.",
    ]
    return "\n".join(lines)


def format_report(report: Report, worst: int = 15) -> str:
    """The table `uschina-digest evaluate` prints."""
    lines = [f"{'issue':<18}{'P':>7}{'R':>7}{'F1':>7}{'support':>9}"]
    for issue, s in sorted(report.issues.items(), key=lambda kv: (-kv[1].support, kv[0])):
        mark = "" if s.support >= MACRO_MIN_SUPPORT else "  (not in macro)"
        lines.append(f"{issue:<18}{s.precision:7.3f}{s.recall:7.3f}{s.f1:7.3f}{s.support:9d}{mark}")
    m = report.micro
    lines += [
        "",
        f"items: {report.n_items}",
        f"macro-F1 (issues with >= {MACRO_MIN_SUPPORT} examples, n={len(report.macro_issues)}): {report.macro_f1:.3f}",
        f"micro-F1: {m.f1:.3f}  (P {m.precision:.3f}, R {m.recall:.3f})",
        f"relevance F1: {report.relevance_f1:.3f}  (P {report.relevance.precision:.3f}, "
        f"R {report.relevance.recall:.3f}, support {report.relevance.support})",
    ]
    if report.errors and worst:
        lines += ["", f"worst errors ({min(worst, len(report.errors))} of {len(report.errors)}):"]
        for e in report.errors[:worst]:
            parts = []
            if e.relevance_error:
                parts.append(f"relevance {e.relevance_error}")
            if e.missed:
                parts.append("missed " + ",".join(e.missed))
            if e.extra:
                parts.append("extra " + ",".join(e.extra))
            lines.append(f"  {e.item_id:<12} {'; '.join(parts):<44} {e.title[:70]}")
    return "\n".join(lines)
