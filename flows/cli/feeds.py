"""`uschina-digest feeds`: the feed health table, and OPML import/export.

Registered in the CLI group by `flows.cli` (`main.add_command(feeds)`).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from flows.cli.common import common
from flows.config import Settings

TABLE_COLUMNS = [
    ("name", "feed", 34),
    ("health", "health", 13),
    ("last_success", "last success", 16),
    ("consecutive_failures", "fails", 5),
    ("next_due", "next due", 16),
    ("items_total", "items", 6),
    ("last_error", "last error / problem", 60),
]


def _cell(row: dict, key: str, width: int) -> str:
    value = row.get(key)
    if key == "last_error":
        value = value or (f"(parse) {row['parse_problem']}" if row.get("parse_problem") else "")
    if key in ("last_success", "next_due") and value:
        value = value.replace("T", " ")[:16]
    if key == "name" and not row.get("configured", True):
        value = f"{value} (not configured)"
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def health_table(rows: list[dict]) -> str:
    lines = ["  ".join(title.ljust(width) for _, title, width in TABLE_COLUMNS).rstrip()]
    for row in rows:
        lines.append("  ".join(_cell(row, key, width).ljust(width) for key, _, width in TABLE_COLUMNS).rstrip())
    return "\n".join(lines)


@click.group("feeds", invoke_without_command=True)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="USCHINA_DIGEST_CONFIG",
    help="Pipeline config file (default: config/pipeline.yaml).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only results and errors, no progress.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON instead of a table.")
@click.pass_context
def feeds(ctx: click.Context, config_path: Path | None, quiet: bool, as_json: bool) -> None:
    """Feed health: last success, last error, failures in a row, next due time, items stored."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(table, config_path=config_path, quiet=quiet, as_json=as_json)


@feeds.command("table")
@common
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON instead of a table.")
def table(settings: Settings, quiet: bool, as_json: bool) -> None:
    """The feed health table (what `feeds` alone prints)."""
    from flows.pipeline import store_for
    from flows.sources.feedlist import configured_feeds
    from flows.store.feeds import feed_health

    rows = feed_health(store_for(settings), configured_feeds(settings), now=datetime.now(timezone.utc))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        click.echo("No feeds configured (add `feeds:` or `feeds_opml:` to the config).")
    else:
        click.echo(health_table(rows))
        from flows.store.page_retries import pending_page_retries

        waiting = pending_page_retries(store_for(settings))
        if waiting and not quiet:
            click.echo(
                f"{waiting} article page(s) could not be had and will be tried again "
                "(after 1 h, 6 h, 24 h; meanwhile the feed's text is used)"
            )


@feeds.command("export-opml")
@common
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
def export_opml(settings: Settings, quiet: bool, output: Path | None) -> None:
    """Write the configured feeds as OPML (for another feed reader)."""
    from flows.sources.feedlist import configured_feeds
    from flows.sources.opml import opml_text

    text = opml_text(configured_feeds(settings))
    if output:
        output.write_text(text, encoding="utf-8")
        if not quiet:
            click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@feeds.command("import-opml")
@common
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="OPML file to merge into (default: the config's feeds_opml).",
)
def import_opml(settings: Settings, quiet: bool, source: Path, output: Path | None) -> None:
    """Merge another reader's OPML export into the config's feed list (feeds_opml)."""
    from flows.sources.opml import read_opml, write_opml

    target = output or settings.feeds_opml
    if target is None:
        raise click.ClickException(
            "no feeds_opml in the config: pass --output FILE, then set `feeds_opml: FILE` in the config"
        )
    incoming = read_opml(source)
    existing = read_opml(target) if Path(target).is_file() else []
    known = {f.url for f in existing} | {f.url for f in settings.feeds}
    added = [f for f in incoming if f.url not in known]
    write_opml(existing + added, target)
    click.echo(f"{len(added)} feed(s) added to {target} ({len(incoming) - len(added)} already listed)")
    if settings.feeds_opml is None or Path(target).resolve() != Path(settings.feeds_opml).resolve():
        click.echo(f"set `feeds_opml: {target}` in the config to use them", err=True)
