"""Both sides of every story, for the digest: who covered it, what each government said, and
the actors it is about (see flows.outlets.coverage and flows.quotes.speakers)."""

from __future__ import annotations

from collections import Counter

from flows.outlets import catalogue_for, feed_overrides, source_of
from flows.outlets.coverage import Coverage, statements
from flows.quotes.speakers import actors_for, normalise_speakers
from flows.store.quotes import quotes_for

MAIN_ACTORS = 4


def _link(url: str) -> str | None:
    return url if url.startswith(("http://", "https://")) else None


def annotate(store, settings, stories: list, groups: dict[str, list]) -> None:
    """Set each story entry's `coverage`, `coverage_line`, `statements` and `actors` from its
    members (the stored items in `groups`, keyed like the entries)."""
    from flows.digest.summary import summarize

    catalogue = catalogue_for(settings)
    overrides = feed_overrides(settings)
    actors = actors_for(settings)
    rows = quotes_for(store, [m.id for ms in groups.values() for m in ms])
    for story in stories:
        members = groups.get(story.key, [])
        sources = {m.id: source_of(m, catalogue, overrides) for m in members}
        coverage = Coverage.of(list(sources.values()))
        quotes = {m.id: list(rows[m.id].quotes) if m.id in rows else [] for m in members}
        names = normalise_speakers((q for qs in quotes.values() for q in qs), actors)
        for qs in quotes.values():
            for q in qs:
                q["speaker"] = names.get(q["speaker"], q["speaker"])
        ordered = sorted(members, key=lambda m: (m.id != story_rep(story, members), m.first_seen, m.id))
        said = statements(
            [
                {
                    "source": sources[m.id],
                    "quotes": quotes[m.id],
                    "link": _link(m.url),
                    "outlet": sources[m.id].outlet or m.source,
                    "summary": summarize(m.title, m.text) if sources[m.id].kind == "official" else "",
                }
                for m in ordered
            ],
            actors,
        )
        weight: Counter = Counter()
        for m in members:
            for q in quotes[m.id]:
                actor = actors.find(q["speaker"])
                if actor is not None:
                    weight[actor.name] += 2
            for name, n in (rows[m.id].actors if m.id in rows else {}).items():
                weight[name] += n
        story.coverage = coverage
        story.coverage_line = coverage.line(catalogue.country_name)
        story.statements = said if len(said) == 2 else {}
        story.actors = [name for name, _ in weight.most_common(MAIN_ACTORS)]


def story_rep(story, members) -> str | None:
    """The id of the member the entry shows (its link), so its words come first."""
    for m in members:
        if m.url == story.url:
            return m.id
    return members[0].id if members else None
