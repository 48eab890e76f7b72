"""Measuring the classifier against labelled items: per-issue P/R/F1, macro/micro-F1, relevance F1.

A labelled item is a JSON object with `title`, `text`, `relevant` and `issues` (ids). The same
numbers are printed by `uschina-digest evaluate` and asserted (with a floor) by the tests, so a
regression shows up in CI. `dev_split` fixes a held-out part of a dev set by hashing item ids: it
is never used to choose terms, weights or thresholds, so its figures estimate unseen data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from flows.models import Classification

MACRO_MIN_SUPPORT = 3
HOLDOUT_MODULUS = 3      # one item in three (by id hash) is held out


def read_labelled(path: str | Path) -> list[dict]:
    """Labelled items from a JSON-lines file; a bad line is an error naming the line."""
    items = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON: {e.msg}") from None
            if not isinstance(item, dict) or "text" not in item:
                raise ValueError(f"{path}:{n}: expected an object with at least 'text'")
            items.append(item)
    return items


def is_held_out(item_id: str) -> bool:
    """Whether a dev item belongs to the held-out split (fixed by its id, independent of order)."""
    return int(hashlib.sha256(item_id.encode("utf-8")).hexdigest(), 16) % HOLDOUT_MODULUS == 0


def dev_split(items: Iterable[dict], part: str) -> list[dict]:
    """`part` is "train" (used for tuning and fitting), "heldout" (never tuned on) or "all"."""
    if part == "all":
        return list(items)
    if part not in ("train", "heldout"):
        raise ValueError(f"unknown split {part!r} (train, heldout or all)")
    want = part == "heldout"
    return [i for i in items if is_held_out(str(i.get("id", ""))) == want]


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
    relevance_error: str | None      # "missed" | "extra" | None
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
        return {"items": self.n_items, "macro_f1": round(self.macro_f1, 4),
                "micro_f1": round(self.micro.f1, 4), "relevance_f1": round(self.relevance_f1, 4),
                "macro_issues": self.macro_issues}


def evaluate(items: list[dict], classify: Callable[[str, str], Classification],
             issue_ids: Iterable[str]) -> Report:
    """Score `classify` on labelled items; every id in `issue_ids` gets a row, even unseen ones."""
    return evaluate_pairs(((item, classify(item.get("title", ""), item["text"])) for item in items), issue_ids)


def evaluate_pairs(pairs: Iterable[tuple[dict, Classification]], issue_ids: Iterable[str]) -> Report:
    """Score predictions already made: (labelled item, its classification) pairs."""
    scores = {i: IssueScore() for i in issue_ids}
    relevance = IssueScore()
    errors: list[ItemError] = []
    items = []
    for item, result in pairs:
        items.append(item)
        gold_rel = bool(item.get("relevant", bool(item.get("issues"))))
        gold = set(item.get("issues", []))
        pred = set(result.issue_ids)
        relevance.tp += gold_rel and result.relevant
        relevance.fp += (not gold_rel) and result.relevant
        relevance.fn += gold_rel and not result.relevant
        for issue in gold | pred:
            s = scores.setdefault(issue, IssueScore())
            s.tp += issue in gold and issue in pred
            s.fp += issue in pred and issue not in gold
            s.fn += issue in gold and issue not in pred
        rel_err = None if gold_rel == result.relevant else ("missed" if gold_rel else "extra")
        missed, extra = sorted(gold - pred), sorted(pred - gold)
        if missed or extra or rel_err:
            errors.append(ItemError(str(item.get("id", "?")), item.get("title", ""), missed, extra,
                                    rel_err, len(missed) + len(extra) + (1.5 if rel_err else 0)))
    errors.sort(key=lambda e: (-e.cost, e.item_id))
    return Report(len(items), scores, relevance, errors)


def fold_reports(pairs: list[tuple[dict, Classification]], fold_of: list[int],
                 issue_ids: Iterable[str]) -> list[Report]:
    """One report per cross-validation fold (`fold_of[n]` is the fold of `pairs[n]`)."""
    ids = list(issue_ids)
    return [evaluate_pairs([p for p, f in zip(pairs, fold_of) if f == k], ids)
            for k in sorted(set(fold_of))]


def format_cross_validation(pooled: Report, folds: list[Report], seconds: float) -> str:
    """What `uschina-digest evaluate --cv K` prints: the pooled table, then the spread over folds.

    The pooled figures (every item's prediction from the model that did not see its fold, scored
    together) are the estimate; per-fold macro-F1 rests on a few examples per issue and is shown
    only for its spread.
    """
    def spread(values: list[float]) -> str:
        if not values:
            return "n/a"
        mean = sum(values) / len(values)
        return f"{mean:.3f} (min {min(values):.3f}, max {max(values):.3f})"

    # a fold without any issue of MACRO_MIN_SUPPORT examples has no macro-F1 (not a zero)
    macros = [f.macro_f1 for f in folds if f.macro_issues]
    lines = [format_report(pooled, worst=0), "",
             f"{len(folds)} folds in {seconds:.0f} s; mean over folds: "
             f"macro-F1 {spread(macros)} ({len(macros)} folds with an issue of >= {MACRO_MIN_SUPPORT} examples), "
             f"micro-F1 {spread([f.micro.f1 for f in folds])}, "
             f"relevance F1 {spread([f.relevance_f1 for f in folds])}",
             "Refitted per fold: text model, self-training labels, stackers, thresholds. Not refitted: the "
             "taxonomy's terms, weights and vetoes, chosen by a person who had seen the dev set's train "
             "split, so on those items this estimate is optimistic."]
    return "\n".join(lines)


def mean_over_draws(reports: dict[int, Report]) -> dict:
    """The mean over fold draws of macro-, micro- and relevance F1 (with macro-F1's min and max)
    and each issue's mean, min and max F1 and support (the draws share the items, so their
    supports are equal). Unrounded: `evaluate --cv K --draws N` prints and writes it."""
    def spread(values: list[float]) -> dict:
        return {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}

    first = next(iter(reports.values()))
    return {"macro_f1": spread([r.macro_f1 for r in reports.values()]),
            "micro_f1": spread([r.micro.f1 for r in reports.values()]),
            "relevance_f1": spread([r.relevance_f1 for r in reports.values()]),
            "issues": {issue: dict(spread([r.issues[issue].f1 for r in reports.values()]), support=s.support)
                       for issue, s in sorted(first.issues.items(), key=lambda kv: (-kv[1].support, kv[0]))}}


def format_draws(reports: dict[int, Report], folds: int, seconds: float) -> str:
    """What `evaluate --cv K --draws N` prints: each fold draw's pooled figures, then
    `mean_over_draws`."""
    mean = mean_over_draws(reports)
    lines = [f"{'draw':<8}{'macro-F1':>10}{'micro-F1':>10}{'relevance F1':>14}"]
    lines += [f"{draw:<8}{r.macro_f1:>10.3f}{r.micro.f1:>10.3f}{r.relevance_f1:>14.3f}" for draw, r in reports.items()]
    macro = mean["macro_f1"]
    lines.append(f"{'mean':<8}{macro['mean']:>10.3f}{mean['micro_f1']['mean']:>10.3f}"
                 f"{mean['relevance_f1']['mean']:>14.3f}   (macro-F1 min {macro['min']:.3f}, max {macro['max']:.3f})")
    lines += ["", f"{'issue':<18}{'mean F1':>9}{'min':>7}{'max':>7}{'support':>9}"]
    for issue, f1 in mean["issues"].items():
        mark = "" if f1["support"] >= MACRO_MIN_SUPPORT else "  (not in macro)"
        lines.append(f"{issue:<18}{f1['mean']:>9.3f}{f1['min']:>7.3f}{f1['max']:>7.3f}{f1['support']:>9}{mark}")
    lines += ["", f"{len(reports)} draws of {folds} folds in {seconds:.0f} s. Refitted per fold: text model, "
              "self-training labels, stackers, thresholds; not refitted: the taxonomy's terms, weights and "
              "vetoes."]
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
        f"macro-F1 (issues with >= {MACRO_MIN_SUPPORT} examples, n={len(report.macro_issues)}): "
        f"{report.macro_f1:.3f}",
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
