"""`uschina-digest label`, `train` and `evaluate`: correcting, refitting and measuring the classifier.

Registered on the main command group by `register(main)` (see flows/cli.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from flows.config import Settings


def _issue_ids(settings: Settings) -> list[str]:
    from flows.config import load_taxonomy

    return load_taxonomy(settings.issues_file).ids


def _check_issues(settings: Settings, ids: list[str], where: str = "") -> None:
    known = set(_issue_ids(settings)) | {"relevant"}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise click.ClickException(f"{where}unknown issue id(s): {', '.join(unknown)} "
                                   f"(known: {', '.join(sorted(known))})")


def _read_correction_file(path: Path) -> list[dict]:
    """Lines `{"id", "add": [...], "remove": [...], "note"}` or `{"id", "issue", "action"}`."""
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                    raise ValueError("expected an object with a string 'id'")
                add, remove = list(obj.get("add", [])), list(obj.get("remove", []))
                if "issue" in obj:
                    if obj.get("action") not in ("add", "remove"):
                        raise ValueError("'action' must be 'add' or 'remove'")
                    (add if obj["action"] == "add" else remove).append(obj["issue"])
                if not add and not remove:
                    raise ValueError("nothing to add or remove")
                if not all(isinstance(i, str) for i in add + remove):
                    raise ValueError("issue ids must be strings")
            except ValueError as e:
                raise click.ClickException(f"{path}:{n}: {e}") from None
            rows.append({"id": obj["id"], "add": add, "remove": remove, "note": obj.get("note"), "line": n})
    return rows


def label(settings: Settings, quiet: bool, item_id: str | None, add: tuple[str, ...], remove: tuple[str, ...],
          note: str | None, file: Path | None) -> None:
    """Correct an item's issue labels (or import corrections from a JSON-lines file).

    A correction overrides the classifier at once and is used as a training example by the next
    `uschina-digest train`. Use the issue id `relevant` to mark an item relevant (--add) or not
    (--remove).
    """
    from flows.pipeline import store_for
    from flows.store.labels import current_labels, record_corrections

    if file is None and item_id is None:
        raise click.UsageError("give an item ID with --add/--remove, or --file corrections.jsonl")
    if file is not None and (item_id or add or remove):
        raise click.UsageError("--file imports corrections; do not combine it with ID, --add or --remove")
    if file is None and not (add or remove):
        raise click.UsageError("nothing to do: give --add ISSUE and/or --remove ISSUE")
    store = store_for(settings)
    if file is not None:
        rows = _read_correction_file(file)
        for row in rows:
            _check_issues(settings, row["add"] + row["remove"], f"{file}:{row['line']}: ")
        missing = [r for r in rows if _missing(store, r["id"])]
        if missing:
            raise click.ClickException(f"{file}:{missing[0]['line']}: no stored item with id {missing[0]['id']!r}"
                                       + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        for row in rows:
            record_corrections(store, row["id"], row["add"], row["remove"], row["note"])
        click.echo(f"recorded corrections for {len(rows)} item(s) from {file}")
        return
    _check_issues(settings, list(add) + list(remove))
    try:
        record_corrections(store, item_id, add, remove, note)
        relevant, labels = current_labels(store, item_id)
    except KeyError:
        raise click.ClickException(f"no stored item with id {item_id!r}") from None
    shown = ", ".join(f"{i} ({origin}, {score:.2f})" for i, score, origin in labels) or "none"
    click.echo(f"{item_id}: relevant={relevant}; issues: {shown}")


def _missing(store, item_id: str) -> bool:
    from flows.store.items import get_item

    return get_item(store, item_id) is None


def train(settings: Settings, quiet: bool, corpus: tuple[Path, ...], labelled: Path | None, split: str,
          out: Path | None, self_training: int, use_store: bool) -> None:
    """Refit the classifier's text model and calibration, and suggest per-issue thresholds.

    Learns from weak labels on unlabelled items (the store's items and any --corpus JSON-lines
    files), the taxonomy's example sentences, labelled items (--labelled, with `relevant` and
    `issues`) and every analyst correction in the store. Writes the model to OUT (default
    <data_dir>/classifier), which `classify`, `ingest` and `run` then use.
    """
    from flows.classify import training
    from flows.classify.evaluation import dev_split, format_report, evaluate_pairs
    from flows.config import load_taxonomy
    from flows.pipeline import store_for
    from flows.store.labels import corrected_items, stored_texts

    log = (lambda msg: None) if quiet else (lambda msg: click.echo(msg, err=True))
    taxonomy = load_taxonomy(settings.issues_file)
    unlabelled: list[dict] = []
    corrections: list[dict] = []
    if use_store:
        store = store_for(settings)
        unlabelled += stored_texts(store)
        corrections = corrected_items(store)
    for path in corpus:
        try:
            unlabelled += training.read_jsonl(path)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
    gold: list[dict] = []
    held_back: list[dict] = []
    if labelled is not None:
        try:
            every = training.read_jsonl(labelled)
            gold = dev_split(every, split)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
        chosen = {id(i) for i in gold}
        held_back = [i for i in every if id(i) not in chosen]   # never trained on, nor their copies
    corrected = {c["id"] for c in corrections}
    unlabelled = [u for u in unlabelled if u.get("id") not in corrected]
    if not unlabelled and not gold and not corrections:
        raise click.ClickException("nothing to learn from: the store is empty and no --corpus/--labelled given")
    result = training.train(taxonomy, unlabelled, gold, corrections, self_training=self_training, log=log,
                            exclude=held_back)
    folder = out or (settings.data_dir / "classifier")
    training.save(result, folder)
    click.echo(f"model written to {folder}")
    if result.out_of_fold:
        report = evaluate_pairs(result.out_of_fold, taxonomy.ids)
        click.echo("out-of-fold figures on the labelled items (the model never saw the item it scored):")
        click.echo(format_report(report, worst=0))
    click.echo("suggested thresholds (set them in the issues file):")
    for issue in taxonomy.issues:
        click.echo(f"  {issue.id:<18} {result.thresholds.get(issue.id, 0.5):.2f}  (now {issue.threshold:.2f})")


def evaluate(settings: Settings, quiet: bool, file: Path, split: str, model: Path | None, worst: int,
             as_json: bool, cv: int | None = None, corpus: tuple[Path, ...] = (), draw: int = 0,
             draws: int = 1) -> None:
    """Measure the classifier on labelled items (JSON lines with `relevant` and `issues`).

    Prints per-issue precision, recall, F1 and support, macro-F1 over issues with at least 3
    examples, micro-F1, relevance F1 and the worst errors. --split heldout scores only the part of
    a dev set that tuning never looks at. --cv K instead refits the classifier K times, each time
    without one fold of the items (and their near-copies), on the --corpus files and the other
    folds, and scores every item with the model that did not see it (minutes, not seconds);
    --draw N assigns the items to folds another way; --draws N repeats the whole estimate with N
    fold draws (from --draw on, side by side on the machine's cores) and prints their mean, the
    figure to judge a change by: on a dev set of 150 items draws' macro-F1 differed by up to 0.05.
    """
    from flows.classify import classifier_for, load_classifier
    from flows.classify.evaluation import dev_split, evaluate as run_evaluation, format_report, read_labelled

    try:
        items = dev_split(read_labelled(file), split)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    unlabelled = [n for n, i in enumerate(items, 1) if "relevant" not in i and "issues" not in i]
    if unlabelled:
        raise click.ClickException(f"{file}: item {unlabelled[0]} has neither 'relevant' nor 'issues'")
    if cv is not None:
        if model is not None:
            raise click.UsageError("--cv trains its own models; do not combine it with --model")
        _cross_validate(settings, quiet, items, cv, corpus, as_json, draw, draws)
        return
    if draws != 1:
        raise click.UsageError("--draws needs --cv")
    classifier = load_classifier(settings.issues_file, model) if model else classifier_for(settings)
    report = run_evaluation(items, classifier.classify, classifier.taxonomy.ids)
    if as_json:
        summary = _summary_json(report)
        summary["classifier"] = classifier.version
        click.echo(json.dumps(summary))
        return
    click.echo(f"classifier {classifier.version}, {file} ({split})")
    click.echo(format_report(report, worst=worst))


def _summary_json(report) -> dict:
    summary = report.summary()
    summary["issues"] = {i: {"precision": round(s.precision, 4), "recall": round(s.recall, 4),
                             "f1": round(s.f1, 4), "support": s.support} for i, s in report.issues.items()}
    return summary


def _cross_validate(settings: Settings, quiet: bool, items: list[dict], folds: int, corpus: tuple[Path, ...],
                    as_json: bool, draw: int = 0, draws: int = 1) -> None:
    from flows.classify import training
    from flows.classify.evaluation import evaluate_pairs, fold_reports, format_cross_validation
    from flows.config import load_taxonomy

    log = (lambda msg: None) if quiet or as_json else (lambda msg: click.echo(msg, err=True))
    taxonomy = load_taxonomy(settings.issues_file)
    unlabelled: list[dict] = []
    for path in corpus:
        try:
            unlabelled += training.read_jsonl(path)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
    if draws > 1:
        _cross_validate_draws(taxonomy, unlabelled, items, folds, list(range(draw, draw + draws)), as_json, log)
        return
    result = training.cross_validate(taxonomy, unlabelled, items, folds, log=log, draw=draw)
    pooled = evaluate_pairs(result.pooled, taxonomy.ids)
    per_fold = fold_reports(result.pooled, result.fold_of, taxonomy.ids)
    if as_json:
        summary = _summary_json(pooled)
        summary.update(folds=folds, draw=draw, seconds=round(result.seconds, 1),
                       fold_macro_f1=[round(f.macro_f1, 4) if f.macro_issues else None for f in per_fold],
                       fold_micro_f1=[round(f.micro.f1, 4) for f in per_fold],
                       fold_relevance_f1=[round(f.relevance_f1, 4) for f in per_fold])
        click.echo(json.dumps(summary))
        return
    click.echo(f"{folds}-fold cross-validation on {len(items)} items (fold draw {draw}), {len(unlabelled)} unlabelled")
    click.echo(format_cross_validation(pooled, per_fold, result.seconds))


def _cross_validate_draws(taxonomy, unlabelled: list[dict], items: list[dict], folds: int, draws: list[int],
                          as_json: bool, log) -> None:
    import time

    from flows.classify import training
    from flows.classify.evaluation import evaluate_pairs, format_draws, mean_over_draws
    from flows.workers import available_cpus

    start = time.perf_counter()
    results = training.cross_validate_draws(taxonomy, unlabelled, items, folds, draws,
                                            workers=available_cpus(), log=log)
    reports = {r.draw: evaluate_pairs(r.pooled, taxonomy.ids) for r in results}
    seconds = time.perf_counter() - start
    if as_json:
        per_draw = [dict(_summary_json(report), draw=draw) for draw, report in reports.items()]
        click.echo(json.dumps({"folds": folds, "draws": draws, "seconds": round(seconds, 1),
                               "mean": _rounded(mean_over_draws(reports)), "per_draw": per_draw}))
        return
    click.echo(f"{folds}-fold cross-validation on {len(items)} items, fold draws {draws[0]}-{draws[-1]}, "
               f"{len(unlabelled)} unlabelled")
    click.echo(format_draws(reports, folds, seconds))


def _rounded(value):
    """A JSON-ready copy with floats to 4 places."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 4) if isinstance(value, float) else value


def register(main: click.Group) -> None:
    """Add the commands to the `uschina-digest` group (keeps flows/cli.py free of their code)."""
    from flows.cli_common import common

    main.command(name="label")(
        common(
            click.argument("item_id", required=False)(
                click.option("--add", multiple=True, metavar="ISSUE", help="Issue the item is about.")(
                    click.option("--remove", multiple=True, metavar="ISSUE", help="Issue it is not about.")(
                        click.option("--note", help="Why (kept with the correction).")(
                            click.option("--file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                                         help="Import corrections from a JSON-lines file.")(label)))))))
    main.command(name="train")(
        common(
            click.option("--corpus", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         help="Unlabelled JSON-lines items {title, text} (repeatable).")(
                click.option("--labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                             help="Labelled JSON-lines items {title, text, relevant, issues}.")(
                    click.option("--split", type=click.Choice(["all", "train", "heldout"]), default="all",
                                 show_default=True, help="Use only this split of --labelled.")(
                        click.option("--out", type=click.Path(file_okay=False, path_type=Path),
                                     help="Model folder (default: <data_dir>/classifier).")(
                            click.option("--self-training", type=click.IntRange(0, 3), default=1, show_default=True,
                                         help="Rounds of relabelling the unlabelled items with the hybrid.")(
                                click.option("--store/--no-store", "use_store", default=True, show_default=True,
                                             help="Learn from the store's items and corrections.")(train))))))))
    main.command(name="evaluate")(
        common(
            click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))(
                click.option("--split", type=click.Choice(["all", "train", "heldout"]), default="all",
                             show_default=True, help="Score only this split of a dev set.")(
                    click.option("--model", type=click.Path(exists=True, file_okay=False, path_type=Path),
                                 help="Model folder (default: <data_dir>/classifier, else the packaged one).")(
                        click.option("--worst", type=int, default=15, show_default=True,
                                     help="How many worst errors to list.")(
                            click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")(
                                click.option("--cv", type=click.IntRange(2, 20), metavar="K",
                                             help="K-fold cross-validation: refit without each fold, score it.")(
                                    click.option("--corpus", multiple=True,
                                                 type=click.Path(exists=True, dir_okay=False, path_type=Path),
                                                 help="With --cv: unlabelled JSON-lines items to train on.")(
                                        click.option("--draw", type=click.IntRange(0, 99), default=0,
                                                     show_default=True,
                                                     help="With --cv: which assignment of items to folds.")(
                                            click.option("--draws", type=click.IntRange(1, 20), default=1,
                                                         show_default=True, metavar="N",
                                                         help="With --cv: repeat with N fold draws (from "
                                                              "--draw on) and print their mean.")(
                                                evaluate)))))))))))
