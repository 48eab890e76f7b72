"""`uschina-digest search` and `uschina-digest web`: the archive searched from a terminal or read in
a browser. Registered on the main command group in flows/cli/__init__.py."""

from __future__ import annotations

import json

import click

from flows.cli.common import common
from flows.config import Settings

QUERY_HELP = """\b
Query language:
  entity list             both words (stemmed: "lists" matches too)
  "entity list"           the phrase
  huawei OR zte           either word
  tariffs -soybeans       without a word
  chip*                   a prefix
  issue:taiwan  source:xinhua  side:china|us|other
  since:2026-03-01  until:2026-03-31  story:ID
"""


@click.command(epilog=QUERY_HELP)
@common
@click.argument("query", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Write the results as one JSON object.")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True, help="At most this many stories.")
def search(settings: Settings, quiet: bool, query: tuple[str, ...], as_json: bool, limit: int) -> None:
    """Search every stored item; print the matching stories, best first, with highlighted snippets.

    The words of QUERY may be given as one quoted argument or several.
    """
    from flows.pipeline import store_for
    from flows.search.query import QueryError
    from flows.search.results import marked_text, search as run_search

    text = " ".join(query)
    try:
        results = run_search(store_for(settings), text, limit)
    except QueryError as e:
        raise click.ClickException(f"search: {e}") from None
    if as_json:
        click.echo(json.dumps(results.to_dict(), ensure_ascii=False, indent=2))
        return
    if not results.stories:
        click.echo(f"no stories match {text!r}", err=True)
        return
    for n, story in enumerate(results.stories, 1):
        issues = f"  [{', '.join(story.issues)}]" if story.issues else ""
        click.echo(f"{n}. {story.title}{issues}")
        click.echo(f"   story {story.key} · {story.n_items} item(s) · {', '.join(story.sources)}")
        for hit in story.hits[:3]:
            click.echo(f"   - {marked_text(hit.title_marked)} ({hit.source})")
            click.echo(f"     {marked_text(hit.snippet_marked)}")


@click.command()
@common
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
def web(settings: Settings, quiet: bool, host: str, port: int) -> None:
    """Serve the web reader: the digest archive, search, stories (with a "wrong label?" form),
    issues with their trend, saved searches, and the Atom / JSON feeds. No JavaScript needed."""
    import uvicorn

    from flows.web.app import create_app

    click.echo(f"web reader at http://{host}:{port}/  (Ctrl-C stops it)", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning" if quiet else "info")
