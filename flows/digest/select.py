"""What a digest contains: the window, the stories in it, grouped by issue in the taxonomy's order."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flows.config import Settings, Taxonomy
from flows.store import Store
from flows.store.digests import covered_story_keys, previous_digest
from flows.store.items import as_utc, items_first_seen_between, labels_for
from flows.store.schema import Item

PERIOD_LENGTH = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
WORDS_PER_MINUTE = 230
OTHER = "other"


@dataclass
class StoryEntry:
    key: str                       # story id, or the item id when the item has no story
    title: str
    url: str
    link: str | None               # http(s) link to the representative item, None for seeds
    sources: list[str]
    published: datetime
    snippet: str
    reading_minutes: int
    issues: list[str]
    relevance: float
    evidence: dict[str, str] = field(default_factory=dict)   # issue id -> best evidence sentence
    n_items: int = 1
    updated: bool = False          # shown in an earlier digest, with new sources since

    @property
    def n_sources(self) -> int:
        return len(self.sources)


@dataclass
class IssueSection:
    id: str
    name: str
    stories: list[StoryEntry]


@dataclass
class DigestContent:
    id: str
    period: str
    since: datetime
    until: datetime
    timezone: str
    sections: list[IssueSection]
    n_items: int
    n_sources: int

    @property
    def stories(self) -> list[StoryEntry]:
        seen: dict[str, StoryEntry] = {}
        for section in self.sections:
            for story in section.stories:
                seen.setdefault(story.key, story)
        return list(seen.values())

    @property
    def n_stories(self) -> int:
        return len(self.stories)

    def issue_counts(self) -> dict[str, int]:
        return {s.id: len(s.stories) for s in self.sections}

    def top_issues(self, n: int = 3) -> list[str]:
        ranked = sorted((s for s in self.sections if s.id != OTHER), key=lambda s: -len(s.stories))
        return [s.id for s in ranked[:n]]


def digest_id(period: str, until: datetime, tz: str) -> str:
    """Digest ids name the local date (daily) or ISO week (weekly) they close, so re-runs replace."""
    local = until.astimezone(ZoneInfo(tz))
    if period == "weekly":
        year, week, _ = local.isocalendar()
        return f"weekly-{year}-W{week:02d}"
    if period == "daily":
        return f"daily-{local:%Y-%m-%d}"
    return f"custom-{local:%Y%m%dT%H%M}"


def window(store: Store, settings: Settings, period: str, since: datetime | None,
           until: datetime | None, now: datetime | None = None) -> tuple[str, datetime, datetime]:
    """(digest id, since, until): from the previous digest of the period to now, unless given."""
    now = now or datetime.now(timezone.utc)
    until = as_utc(until) or now
    tz = settings.schedule.timezone
    if since is not None:
        ident = digest_id("custom", until, tz) + f"-{as_utc(since):%Y%m%dT%H%M}"
        return ident, as_utc(since), until
    ident = digest_id(period, until, tz)
    prev = previous_digest(store, period, before_id=ident)
    start = prev.until if prev is not None else until - PERIOD_LENGTH[period]
    return ident, min(start, until), until


_SENT = re.compile(r"(?<=[.!?…])[\"'”’]?\s+")


def snippet(text: str, max_chars: int = 280) -> str:
    """The first sentences of the body, up to `max_chars`, cut at a sentence end where possible."""
    first = text.strip().split("\n\n", 1)[0]
    if len(first) <= max_chars:
        return first
    out = ""
    for sentence in _SENT.split(first):
        if len(out) + len(sentence) + 1 > max_chars:
            break
        out = f"{out} {sentence}".strip()
    return out or first[: max_chars - 1].rsplit(" ", 1)[0] + "…"


def _link(item: Item) -> str | None:
    return item.url if item.url.startswith(("http://", "https://")) else None


def select_content(store: Store, settings: Settings, taxonomy: Taxonomy, ident: str, period: str,
                   since: datetime, until: datetime, issues: list[str] | None = None) -> DigestContent:
    """Relevant items first seen in the window, grouped into stories, sections in taxonomy order."""
    items = [i for i in items_first_seen_between(store, since, until) if i.relevant]
    labels = labels_for(store, [i.id for i in items])
    covered = covered_story_keys(store, exclude_digest=ident)

    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.story_id or item.id, []).append(item)

    stories: list[StoryEntry] = []
    for key, members in groups.items():
        members.sort(key=lambda i: (-(i.word_count or 0), i.first_seen))
        rep = members[0]
        issue_scores: dict[str, float] = {}
        evidence: dict[str, str] = {}
        for m in members:
            for lab in labels[m.id]:
                if lab.score > issue_scores.get(lab.issue_id, -1):
                    issue_scores[lab.issue_id] = lab.score
                    if lab.evidence:
                        evidence[lab.issue_id] = lab.evidence[0]["text"]
        sources = sorted({m.source for m in members})
        stories.append(StoryEntry(
            key=key, title=rep.title, url=rep.url, link=_link(rep), sources=sources,
            published=as_utc(min(m.published or m.first_seen for m in members)),
            snippet=snippet(rep.text), reading_minutes=max(1, round((rep.word_count or 0) / WORDS_PER_MINUTE)),
            issues=sorted(issue_scores, key=lambda i: -issue_scores[i]),
            relevance=max(m.relevance or 0 for m in members), evidence=evidence,
            n_items=len(members), updated=key in covered,
        ))
    stories.sort(key=lambda s: (-s.n_sources, -s.relevance, s.title))

    wanted = set(issues) if issues else None
    sections: list[IssueSection] = []
    for issue in taxonomy.issues:
        if wanted is not None and issue.id not in wanted:
            continue
        members = [s for s in stories if issue.id in s.issues][: settings.digest.max_items_per_issue]
        if members:
            sections.append(IssueSection(issue.id, issue.name, members))
    if wanted is None or OTHER in wanted:
        other = [s for s in stories if not s.issues]
        if other:
            sections.append(IssueSection(OTHER, "Other", other))
    shown = {s.key for sec in sections for s in sec.stories}
    return DigestContent(
        id=ident, period=period, since=since, until=until, timezone=settings.schedule.timezone,
        sections=sections, n_items=sum(s.n_items for s in stories if s.key in shown),
        n_sources=len({src for s in stories if s.key in shown for src in s.sources}),
    )
