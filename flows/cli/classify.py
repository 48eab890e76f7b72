"""`uschina-digest label`, `train` and `evaluate`: correcting, refitting and measuring the classifier.

Registered on the main command group by `register(main)` (see flows/cli/__init__.py).
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
        raise click.ClickException(
            f"{where}unknown issue id(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )


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


def label(
    settings: Settings,
    quiet: bool,
    item_id: str | None,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    note: str | None,
    file: Path | None,
) -> None:
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
            raise click.ClickException(
                f"{file}:{missing[0]['line']}: no stored item with id {missing[0]['id']!r}"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
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


def _labelled_items(files: tuple[Path, ...], split: str) -> list[dict]:
    """The items of some labelled files, read together (near-copy groups span the files), then
    one split of them."""
    from flows.classify.evaluation import read_labelled
    from flows.classify.splits import split as split_items

    items: list[dict] = []
    try:
        for path in files:
            found = read_labelled(path)
            missing = next((n for n, i in enumerate(found, 1) if "relevant" not in i and "issues" not in i), None)
            if missing is not None:
                raise ValueError(f"{path}: item {missing} has neither 'relevant' nor 'issues'")
            items += found
        return split_items(items, split)
    except ValueError as e:
        raise click.ClickException(str(e)) from None


def train(
    settings: Settings, quiet: bool, labelled: tuple[Path, ...], split: str, out: Path | None, use_store: bool
) -> None:
    """Refit the classifier from labelled items and analysts' corrections.

    Learns from the --labelled JSON-lines files (`{id, title, text, relevant, issues}`; the shipped
    model: ../shared/eval/nyt-train.jsonl and nyt-dev.jsonl) and every correction in the store
    (`uschina-digest label`). Thresholds are chosen on out-of-fold probabilities. Writes the model
    to OUT (default <data_dir>/classifier), which `classify`, `ingest` and `run` then use; the
    model records the files it came from (names, sizes, SHA-256).
    """
    from flows.classify import classifier_for, training
    from flows.config import load_taxonomy
    from flows.pipeline import store_for
    from flows.store.labels import corrected_items

    log = (lambda msg: None) if quiet else (lambda msg: click.echo(msg, err=True))
    taxonomy = load_taxonomy(settings.issues_file)
    gold = _labelled_items(labelled, split) if labelled else []
    corrections = corrected_items(store_for(settings)) if use_store else []
    if not gold and not corrections:
        raise click.ClickException(
            "nothing to learn from: give --labelled files, or record corrections with `uschina-digest label`"
        )
    current = None
    if corrections:
        classifier = classifier_for(settings)
        current = classifier.classify
    sources = [dict(training.file_record(p), split=split) for p in labelled]
    if corrections:
        sources.append({"store_corrections": len(corrections)})
    try:
        model = training.train(taxonomy, gold, corrections, current, sources, log=log)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    folder = model.save(out or (settings.data_dir / "classifier"))
    click.echo(f"model written to {folder}")
    click.echo("learned thresholds (a `threshold` in the issues file overrides one):")
    for label, value in model.thresholds.items():
        click.echo(f"  {label:<18} {value:.3f}")


def evaluate(
    settings: Settings,
    quiet: bool,
    files: tuple[Path, ...],
    split: str,
    model: Path | None,
    worst: int,
    as_json: bool,
    cv: int | None = None,
    draw: int = 0,
    draws: int = 1,
) -> None:
    """Measure the classifier on labelled items (JSON lines with `relevant` and `issues`).

    Prints per-issue precision, recall, F1 and support, macro-F1 over issues with at least 3
    examples, micro-F1, relevance F1 and the worst errors. Several FILES are read as one set.
    --split frozen scores only the frozen test split (20 % of the near-copy groups, fixed by a
    hash: never trained or tuned on); --split rest the other 80 %. --cv K instead refits the whole
    recipe K times, each time without one fold of the items (and their near-copies), and scores
    every item with the model that did not see it (minutes, not seconds); --draw N assigns items
    to folds another way; --draws N repeats the estimate with N fold draws and prints their mean
    and spread: judge a change by more than that spread.
    """
    from flows.classify import classifier_for, load_classifier
    from flows.classify.evaluation import evaluate_pairs, format_report

    items = _labelled_items(files, split)
    names = ", ".join(str(f) for f in files)
    if cv is not None:
        if model is not None:
            raise click.UsageError("--cv trains its own models; do not combine it with --model")
        _cross_validate(settings, quiet, items, cv, list(range(draw, draw + draws)), as_json)
        return
    if draws != 1:
        raise click.UsageError("--draws needs --cv")
    classifier = load_classifier(settings.issues_file, model) if model else classifier_for(settings)
    verdicts = classifier.classify_many([(i.get("title", ""), i["text"]) for i in items])
    report = evaluate_pairs(zip(items, verdicts), classifier.taxonomy.ids)
    if as_json:
        summary = _summary_json(report)
        summary["classifier"] = classifier.version
        click.echo(json.dumps(summary))
        return
    click.echo(f"classifier {classifier.version}, {names} (split: {split})")
    click.echo(format_report(report, worst=worst))


def _summary_json(report) -> dict:
    summary = report.summary()
    summary["issues"] = {
        i: {
            "precision": round(s.precision, 4),
            "recall": round(s.recall, 4),
            "f1": round(s.f1, 4),
            "support": s.support,
        }
        for i, s in report.issues.items()
    }
    return summary


def _cross_validate(
    settings: Settings, quiet: bool, items: list[dict], folds: int, draws: list[int], as_json: bool
) -> None:
    import time

    from flows.classify import training
    from flows.classify.evaluation import evaluate_pairs, format_draws, format_report, mean_over_draws
    from flows.config import load_taxonomy

    log = (lambda msg: None) if quiet else (lambda msg: click.echo(msg, err=True))
    taxonomy = load_taxonomy(settings.issues_file)
    started = time.monotonic()
    results = training.cross_validate(taxonomy, items, folds, draws, log=log)
    reports = {d: evaluate_pairs(pairs, taxonomy.ids) for d, pairs in results.items()}
    if as_json:
        click.echo(
            json.dumps(
                {
                    "folds": folds,
                    "draws": {d: _summary_json(r) for d, r in reports.items()},
                    "mean": _rounded(mean_over_draws(reports)),
                }
            )
        )
        return
    if len(reports) == 1:
        click.echo(format_report(next(iter(reports.values())), worst=0))
        click.echo("")
    click.echo(format_draws(reports, folds, time.monotonic() - started))


def _rounded(value):
    """A JSON-ready copy with floats to 4 places."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 4) if isinstance(value, float) else value


def register(main: click.Group) -> None:
    """Add the commands to the `uschina-digest` group (keeps flows/cli/__init__.py free of their code)."""
    from flows.cli.common import common

    main.command(name="label")(
        common(
            click.argument("item_id", required=False)(
                click.option("--add", multiple=True, metavar="ISSUE", help="Issue the item is about.")(
                    click.option("--remove", multiple=True, metavar="ISSUE", help="Issue it is not about.")(
                        click.option("--note", help="Why (kept with the correction).")(
                            click.option(
                                "--file",
                                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                                help="Import corrections from a JSON-lines file.",
                            )(label)
                        )
                    )
                )
            )
        )
    )
    labelled_split = click.Choice(["all", "rest", "frozen"])
    main.command(name="train")(
        common(
            click.option(
                "--labelled",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="Labelled JSON-lines items {id, title, text, relevant, issues} (repeatable).",
            )(
                click.option(
                    "--split",
                    type=labelled_split,
                    default="all",
                    show_default=True,
                    help="Train on this split of the --labelled items only (rest: all but the frozen test split).",
                )(
                    click.option(
                        "--out",
                        type=click.Path(file_okay=False, path_type=Path),
                        help="Model folder (default: <data_dir>/classifier).",
                    )(
                        click.option(
                            "--store/--no-store",
                            "use_store",
                            default=True,
                            show_default=True,
                            help="Learn from the store's corrections too.",
                        )(train)
                    )
                )
            )
        )
    )
    main.command(name="evaluate")(
        common(
            click.argument(
                "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
            )(
                click.option(
                    "--split",
                    type=labelled_split,
                    default="all",
                    show_default=True,
                    help="Score only this split of the items (frozen: the test split).",
                )(
                    click.option(
                        "--model",
                        type=click.Path(exists=True, file_okay=False, path_type=Path),
                        help="Model folder (default: <data_dir>/classifier, else the packaged one).",
                    )(
                        click.option(
                            "--worst", type=int, default=15, show_default=True, help="How many worst errors to list."
                        )(
                            click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")(
                                click.option(
                                    "--cv",
                                    type=click.IntRange(2, 20),
                                    metavar="K",
                                    help="K-fold cross-validation: refit without each fold, score it.",
                                )(
                                    click.option(
                                        "--draw",
                                        type=click.IntRange(0, 99),
                                        default=0,
                                        show_default=True,
                                        help="With --cv: which assignment of items to folds.",
                                    )(
                                        click.option(
                                            "--draws",
                                            type=click.IntRange(1, 20),
                                            default=1,
                                            show_default=True,
                                            metavar="N",
                                            help="With --cv: repeat with N fold draws (from --draw "
                                            "on) and print their mean and spread.",
                                        )(evaluate)
                                    )
                                )
                            )
                        )
                    )
                )
            )
        )
    )
