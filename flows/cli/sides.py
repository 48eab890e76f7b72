"""`uschina-digest actors` and `export --stories`: who was quoted or named most, per side, and
each story's coverage by side (see docs/sides.md)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import IO

import click

from flows.cli.common import common
from flows.config import Settings


def export_stories(store, catalogue, overrides, stream: IO[str]) -> int:
    """One JSON line per story: id, title, items (id, outlet, country, kind, side, url), and the
    coverage breakdown (per side: outlets, kinds, countries, names; `one_sided`)."""
    from sqlalchemy import select

    from flows.outlets import source_of
    from flows.outlets.coverage import Coverage
    from flows.store.schema import Item, Story

    n = 0
    with store.session() as s:
        titles = {sid: title for sid, title in s.execute(select(Story.id, Story.title))}
        members: dict[str, list] = defaultdict(list)
        for item in s.scalars(select(Item).where(Item.story_id.is_not(None)).order_by(Item.first_seen, Item.id)):
            members[item.story_id].append(item)
    for story_id, items in members.items():
        sources = [(item, source_of(item, catalogue, overrides)) for item in items]
        coverage = Coverage.of([src for _, src in sources])
        stream.write(
            json.dumps(
                {
                    "story_id": story_id,
                    "title": titles.get(story_id, items[0].title),
                    "n_items": len(items),
                    "coverage": coverage.to_dict(),
                    "coverage_line": coverage.line(catalogue.country_name),
                    "items": [{"id": item.id, "url": item.url, **src.to_dict()} for item, src in sources],
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        n += 1
    return n


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or date-time (e.g. 2026-11-01)") from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


def actor_counts(settings: Settings, since: datetime | None, until: datetime | None) -> dict[str, list[dict]]:
    """side -> [{name, type, role, quoted, named, items}] over items first seen in the window,
    most quoted then most named first. Speakers not in config/actors.yaml are listed under the
    side of the outlet that quoted them ("quoted by" side), marked `listed: false`."""
    from flows.outlets import catalogue_for, feed_overrides, source_of
    from flows.pipeline import store_for
    from flows.quotes.speakers import actors_for, normalise_speakers
    from flows.store.quotes import quotes_between

    actors = actors_for(settings)
    catalogue, overrides = catalogue_for(settings), feed_overrides(settings)
    rows = quotes_between(store_for(settings), since, until)
    stories: dict[str, list] = defaultdict(list)
    for item, row in rows:
        stories[item.story_id or item.id].append((item, row))
    table: dict[tuple[str, str], dict] = {}

    def entry(name: str, side: str, actor) -> dict:
        key = (side, name)
        if key not in table:
            table[key] = {
                "name": name,
                "side": side,
                "listed": actor is not None,
                "type": actor.type if actor else None,
                "role": actor.role if actor else None,
                "quoted": 0,
                "named": 0,
                "items": set(),
            }
        return table[key]

    for members in stories.values():
        names = normalise_speakers((q for _, row in members for q in row.quotes), actors)
        for item, row in members:
            for q in row.quotes:
                name = names.get(q["speaker"], q["speaker"])
                actor = actors.find(name)
                side = actor.side if actor else source_of(item, catalogue, overrides).side
                e = entry(actor.name if actor else name, side if side in ("us", "china") else "other", actor)
                e["quoted"] += 1
                e["items"].add(item.id)
            for name, n in (row.actors or {}).items():
                actor = actors.find(name)
                if actor is None:
                    continue
                e = entry(actor.name, actor.side, actor)
                e["named"] += n
                e["items"].add(item.id)
    out: dict[str, list[dict]] = {"us": [], "china": [], "other": []}
    for e in table.values():
        out[e["side"]].append({**e, "items": len(e["items"])})
    for side in out:
        out[side].sort(key=lambda e: (-e["quoted"], -e["named"], e["name"]))
    return out


@click.command()
@common
@click.option(
    "--since", help="Items first seen from this time (ISO date or date-time, UTC unless given); default: 7 days ago."
)
@click.option("--until", help="Items first seen before this time (default: now).")
@click.option("--limit", type=click.IntRange(1), default=10, show_default=True, help="Actors shown per side.")
@click.option(
    "--json", "as_json", is_flag=True, help="Write JSON: {side: [{name, type, role, quoted, named, items, listed}]}."
)
def actors(settings: Settings, quiet: bool, since: str | None, until: str | None, limit: int, as_json: bool) -> None:
    """Who was quoted or named most in a period, per side (US, China, other).

    Quoted counts direct quotations attributed to the person (speakers merged within each story:
    "Blinken" is "Antony Blinken"); named counts mentions of the actors listed in
    config/actors.yaml (officials, ministries, Entity List companies) and their aliases.
    """
    until_dt = _when(until) or datetime.now(timezone.utc)
    since_dt = _when(since) or until_dt - timedelta(days=7)
    if since_dt >= until_dt:
        raise click.BadParameter("--since must be before --until")
    table = actor_counts(settings, since_dt, until_dt)
    if as_json:
        click.echo(json.dumps({side: rows[:limit] for side, rows in table.items()}, ensure_ascii=False, indent=2))
        return
    labels = {"us": "United States", "china": "China", "other": "Others"}
    for side in ("us", "china", "other"):
        rows = table[side][:limit]
        click.echo(f"{labels[side]}" + ("" if rows else ": nobody quoted or named"))
        for e in rows:
            extra = f" — {e['role']}" if e["role"] else ("" if e["listed"] else " (not in actors.yaml)")
            click.echo(f"  {e['quoted']:3d} quoted {e['named']:3d} named  {e['name']}{extra}")
