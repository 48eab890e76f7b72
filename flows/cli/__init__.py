"""`uschina-digest`: ingest US–China news, classify it by issue, and write the digest.

Without a Prefect server the commands run the pipeline in-process; with `PREFECT_API_URL` set,
`run`, `ingest` and `digest` run as Prefect flow runs that the UI shows. Same code either way.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from flows.cli.common import common
from flows.config import Settings

EPILOG = (
    "Configuration: config/pipeline.yaml by default; --config PATH or USCHINA_DIGEST_CONFIG picks "
    "another, and USCHINA_DIGEST_<KEY> environment variables override single keys."
)


def _use_prefect() -> bool:
    return bool(os.environ.get("PREFECT_API_URL"))


def _progress(quiet: bool):
    def show(report) -> None:
        if quiet:
            return
        if report.status == "error":
            click.echo(f"  ✗ {report.source}: {report.error}", err=True)
        elif report.status == "skipped":
            click.echo(f"  – {report.source}: skipped ({report.error or 'not due'})", err=True)
        else:
            click.echo(
                f"  ✓ {report.source}: {report.items_new} new, {report.items_seen} already stored"
                + (" (not modified)" if report.status == "not_modified" else ""),
                err=True,
            )

    return show


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="uschina-digest")
def main() -> None:
    """Ingest US–China news from seed files and feeds, classify every item by issue (Taiwan, trade,
    export controls, fentanyl, …), group rewrites of one story, and write a digest as HTML and text.

    \b
    Typical use:
      uschina-digest run                 ingest everything, then write today's digest
      uschina-digest ingest --report r.json
      uschina-digest digest --period weekly
      echo '{"id":"1","title":"…","text":"…"}' | uschina-digest classify
    """


# ------------------------------------------------------------------ run / ingest


def _ingest(settings: Settings, quiet: bool, sources: str, max_items: int | None, force: bool) -> dict:
    from flows import pipeline

    if _use_prefect():
        import asyncio

        from flows.service.flows import ingest as ingest_flow

        return asyncio.run(
            ingest_flow(config_path=str(settings.config_path), sources=sources, max_items=max_items, force=force)
        )
    options = pipeline.IngestOptions(sources=sources, max_items=max_items, force=force)
    try:
        report = pipeline.run_ingest(settings, options, on_progress=_progress(quiet))
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--sources") from None
    return report.to_dict()


def _digest(settings: Settings, **options: Any) -> dict:
    from flows import pipeline

    if _use_prefect():
        import asyncio

        from flows.service.flows import digest as digest_flow

        try:
            return asyncio.run(digest_flow(config_path=str(settings.config_path), **options))
        except pipeline.UndeliveredDigest as undelivered:  # the run failed; the digest exists
            return undelivered.result
    return pipeline.run_digest(settings, pipeline.DigestOptions(**options)).to_dict()


def _report_deliveries(result: dict, quiet: bool) -> None:
    """One line per message handled; where messages wait (and why) is printed even with --quiet."""
    marks = {
        "sent": "✓ sent",
        "already_sent": "= already sent",
        "queued": "… waiting in the outbox",
        "failed": "✗ not sent",
        "busy": "~ being sent by another run",
        "gave_up": "✗ given up",
    }
    if not quiet:
        for d in result.get("deliveries") or []:
            line = f"  {marks.get(d['status'], d['status'])}: {d['digest_id']} → {d['recipient']}"
            if d.get("error") and d["status"] in ("failed", "gave_up"):
                line += f" ({d['error']})"
            click.echo(line, err=True)
    if result.get("outbox"):
        click.echo(result["outbox"], err=True)


def _exit_if_undelivered(result: dict) -> None:
    """Exit status 1 when a message could not be sent, so cron and scripts notice; the digest's
    path was printed, and the message waits in the outbox for the next run."""
    from flows import pipeline

    if pipeline.undelivered(result):
        raise SystemExit(1)


def _summary(report: dict, quiet: bool) -> None:
    if not quiet:
        errors = sum(1 for s in report["sources"] if s["status"] == "error")
        click.echo(
            f"ingest: {report['items_new']} new items, {report['items_seen']} already stored, "
            f"{report['classified']} classified" + (f"; {errors} source(s) failed (see above)" if errors else ""),
            err=True,
        )
        for m in (report.get("alerts") or {}).get("messages", []):
            click.echo(
                f"  alert {m['alert']} → {m['recipient']}: {m['status']}, {len(m['stories'])} "
                f"{'story' if len(m['stories']) == 1 else 'stories'}" + (f" ({m['error']})" if m.get("error") else ""),
                err=True,
            )


_sources_option = click.option(
    "--sources",
    default="all",
    show_default=True,
    metavar="all|seeds|feeds|NAME",
    help="What to ingest: everything, only the seeds folder, only feeds, or one feed by name or URL.",
)
_max_items_option = click.option(
    "--max-items", type=click.IntRange(1), default=None, help="At most this many entries per feed."
)
_force_option = click.option("--force", is_flag=True, help="Fetch feeds even when they are not due yet.")


@main.command()
@common
@_sources_option
@_max_items_option
@_force_option
@click.option(
    "--send",
    is_flag=True,
    help="Also e-mail the digest to the configured recipients. Exit status 1 "
    "when a message could not be sent (it waits in the outbox for the next run).",
)
def run(settings: Settings, quiet: bool, sources: str, max_items: int | None, force: bool, send: bool) -> None:
    """Run the whole pipeline once: ingest, classify, write the digest, print its path."""
    report = _ingest(settings, quiet, sources, max_items, force)
    _summary(report, quiet)
    result = _digest(settings, send=send)
    _report_deliveries(result, quiet)
    click.echo(result["html_path"])
    _exit_if_undelivered(result)


@main.command()
@common
@_sources_option
@_max_items_option
@_force_option
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write a JSON report: items_new, items_seen and per-source status.",
)
def ingest(
    settings: Settings, quiet: bool, sources: str, max_items: int | None, force: bool, report_path: Path | None
) -> None:
    """Fetch seeds and feeds into the store and classify new items. Safe to re-run: nothing is stored twice."""
    report = _ingest(settings, quiet, sources, max_items, force)
    _summary(report, quiet)
    if report_path:
        report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _parse_when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or date-time (e.g. 2026-11-01 or 2026-11-01T07:00)")
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


@main.command()
@common
@click.option(
    "--period",
    type=click.Choice(["daily", "weekly"]),
    default=None,
    help="Digest period (default: digest.period in the config).",
)
@click.option("--since", help="Start of a custom window (ISO date/time, UTC unless given).")
@click.option("--until", help="End of the window (default: now).")
@click.option("--issue", "issues", multiple=True, metavar="ISSUE", help="Only these issues (repeatable).")
@click.option(
    "--send",
    is_flag=True,
    help="E-mail the digest to the configured recipients. Exit status 1 when "
    "a message could not be sent (it waits in the outbox for the next run).",
)
@click.option("--to", metavar="ADDRESS", help="Send only to this address (all issues), for a test.")
def digest(
    settings: Settings,
    quiet: bool,
    period: str | None,
    since: str | None,
    until: str | None,
    issues: tuple[str, ...],
    send: bool,
    to: str | None,
) -> None:
    """Write the digest of items first seen since the previous digest of the period; print its path."""
    since_dt, until_dt = _parse_when(since), _parse_when(until)
    if since_dt and until_dt and since_dt >= until_dt:
        raise click.BadParameter("--since must be before --until")
    result = _digest(
        settings,
        period=period,
        since=since_dt,
        until=until_dt,
        issues=list(issues) or None,
        send=send or bool(to),
        to=to,
    )
    if not quiet:
        click.echo(
            f"digest {result['id']}: {result['n_stories']} stories, {result['n_items']} items, "
            f"{result['n_sources']} sources",
            err=True,
        )
    _report_deliveries(result, quiet)
    click.echo(result["html_path"])
    _exit_if_undelivered(result)


# ------------------------------------------------------------------ classify / export


def _classify_inputs(paths: tuple[Path, ...]):
    if paths:
        from flows.sources.seeds import SeedError, read_seed

        for path in paths:
            try:
                article = read_seed(path)
            except SeedError as e:
                raise click.ClickException(str(e)) from None
            yield path.name, article.title, article.text
        return
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            raise click.ClickException(f"stdin line {n}: invalid JSON ({e})") from None
        yield str(obj.get("id", n)), str(obj.get("title") or ""), str(obj.get("text") or "")


@main.command()
@common
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def classify(settings: Settings, quiet: bool, paths: tuple[Path, ...]) -> None:
    """Classify articles by US–China issue, with scores and evidence.

    Reads JSON lines {"id", "title", "text"} on stdin, or article files (.txt/.md/.html) given as
    PATHS, and writes one JSON line per item:
    {"id", "relevant", "relevance", "issues": [{"id", "score", "evidence": [{"text", "start", "end"}]}]}.
    Evidence offsets index into the title, a blank line, then the text.
    """
    from flows.classify import classifier_for

    classifier = classifier_for(settings)
    out = sys.stdout
    for item_id, title, text in _classify_inputs(paths):
        out.write(json.dumps(classifier.classify(title, text).to_dict(item_id), ensure_ascii=False) + "\n")
    out.flush()


@main.command()
@common
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.option(
    "--stories",
    "stories",
    is_flag=True,
    help="One line per story instead: its items, sources by side (us, china, other), kinds, "
    "countries and the one-sided flag.",
)
def export(settings: Settings, quiet: bool, fmt: str, output: Path | None, stories: bool) -> None:
    """Write every stored item with its source (outlet, country, kind), URL, title, text, time,
    issues, story and quotes ({speaker, role, text, start, end}); with --stories, every story."""
    from flows.outlets import catalogue_for, feed_overrides, source_of
    from flows.pipeline import store_for
    from flows.store.items import iter_items, labels_for
    from flows.quotes.speakers import actors_for, story_speakers
    from flows.store.quotes import quotes_for

    store = store_for(settings)
    catalogue, overrides = catalogue_for(settings), feed_overrides(settings)
    stream = output.open("w", encoding="utf-8") if output else sys.stdout
    if stories:
        from flows.cli.sides import export_stories

        try:
            export_stories(store, catalogue, overrides, stream)
        finally:
            if output:
                stream.close()
        return
    try:
        batch: list = []

        def flush() -> None:
            labels = labels_for(store, [i.id for i in batch])
            quotes = quotes_for(store, [i.id for i in batch])
            speakers = story_speakers(store, [i.story_id for i in batch], actors_for(settings))
            for item in batch:
                source = source_of(item, catalogue, overrides)
                stream.write(
                    json.dumps(
                        {
                            "id": item.id,
                            "source": item.source,
                            "url": item.url,
                            "title": item.title,
                            "text": item.text,
                            "published": item.published.isoformat() if item.published else None,
                            "undated": item.undated,
                            "first_seen": item.first_seen.isoformat(),
                            "language": item.language,
                            "relevant": item.relevant,
                            "relevance": item.relevance,
                            "issues": [
                                {"id": lab.issue_id, "score": round(lab.score, 4), "origin": lab.origin}
                                for lab in labels[item.id]
                            ],
                            "story_id": item.story_id,
                            "outlet": source.outlet,
                            "country": source.country,
                            "kind": source.kind,
                            "side": source.side,
                            "quotes": [
                                {**q, "speaker": speakers.get(item.story_id, {}).get(q["speaker"], q["speaker"])}
                                for q in (quotes[item.id].quotes if item.id in quotes else [])
                            ],
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
            batch.clear()

        for item in iter_items(store):
            batch.append(item)
            if len(batch) >= 500:
                flush()
        flush()
    finally:
        if output:
            stream.close()


# Commands that live beside the concern they serve.
from flows.cli.classify import register as _register_classify_commands  # noqa: E402
from flows.cli.feeds import feeds  # noqa: E402
from flows.cli.search import search, web  # noqa: E402
from flows.cli.serve import serve  # noqa: E402
from flows.cli.sides import actors  # noqa: E402

main.add_command(feeds)
main.add_command(serve)
main.add_command(actors)
main.add_command(search)
main.add_command(web)
_register_classify_commands(main)  # label, train, evaluate


if __name__ == "__main__":
    main()
