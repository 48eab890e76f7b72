"""What a digest contains: the window, its stories, and how they are arranged for one reader.

Two steps. `load_digest_data` reads the store once: every story first seen in the window (with all
its sources, older ones included), and the label rows of the periods before it for the trend.
`arrange` is pure: it places each story once, under its strongest issue among those the reader
follows, builds the sections in taxonomy order, the top stories, the movers and the trend. So one
digest renders for the archive (all issues) and for each recipient (their issues) from one read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from markupsafe import Markup

from flows.config import Settings, Taxonomy
from flows.digest.chart import Trend, TrendSeries
from flows.digest.safe_html import clean_feed_html
from flows.digest.summary import summarize
from flows.store import Store
from flows.store.digests import covered_story_keys, previous_digest
from flows.store.items import as_utc, labels_for
from flows.store.schema import Item
from flows.store.selection import (
    label_rows_between,
    relevant_items_between,
    story_members,
    story_representatives,
)

PERIOD_LENGTH = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
WORDS_PER_MINUTE = 230
OTHER = "other"
OTHER_NAME = "Other"
MOVERS = 3
ONE_SIDED_SHOWN = 5  # "Only one side is talking about": the period's one-sided stories with most sources
SHORT_TEXT_WORDS = 40  # below this, a feed's own summary (sanitized) may say more than the text


@dataclass
class StoryEntry:
    key: str  # story id, or the item id when the item has no story
    title: str
    url: str
    link: str | None  # http(s) link to the representative item, None for seeds
    sources: list[str]
    published: datetime
    reading_minutes: int
    issue_scores: dict[str, float]  # issue id -> best score over the story's items
    relevance: float
    summary: str = ""  # 1–2 extractive sentences of the representative item
    summary_html: Markup | None = None  # the feed's own summary, sanitized, for near-empty texts
    evidence: dict[str, str] = field(default_factory=dict)  # issue id -> best evidence sentence
    n_items: int = 1
    updated: bool = False  # shown in an earlier digest, with new items since
    # both sides (flows.digest.sides): who covered it, what each government said, who it is about
    coverage: object | None = None  # flows.outlets.coverage.Coverage
    coverage_line: str = ""
    statements: dict = field(default_factory=dict)  # "us"/"china" -> Statement, when both spoke
    actors: list[str] = field(default_factory=list)

    @property
    def one_sided(self) -> bool:
        return bool(self.coverage is not None and self.coverage.one_sided)

    @property
    def n_sources(self) -> int:
        return len(self.sources)

    @property
    def issues(self) -> list[str]:
        return sorted(self.issue_scores, key=lambda i: -self.issue_scores[i])


@dataclass(frozen=True)
class Window:
    """One period of the trend: the stories first seen in it and their issue scores."""

    start: datetime
    end: datetime
    stories: dict[str, dict[str, float]]


@dataclass
class IssueSection:
    id: str
    name: str
    stories: list[StoryEntry]  # shown (at most max_items_per_issue)
    count: int = 0  # stories placed here, shown or not
    previous: int | None = None  # stories placed here in the period before (None: no history)

    @property
    def more(self) -> int:
        return self.count - len(self.stories)

    @property
    def change(self) -> str:
        return change_label(self.count, self.previous)


@dataclass
class DigestData:
    """Everything a digest is made of, read from the store once."""

    id: str
    period: str
    since: datetime
    until: datetime
    timezone: str
    stories: list[StoryEntry]  # ranked: most sources, then relevance
    windows: list[Window]  # oldest first; the last is [since, until)
    issue_names: dict[str, str]  # taxonomy order, then "other"
    top_stories: int = 5
    max_per_issue: int = 25


@dataclass
class DigestContent:
    """A digest arranged for one audience (all issues, or a recipient's)."""

    data: DigestData
    issues: list[str] | None  # the audience's issues; None = all (and "other")
    sections: list[IssueSection]
    top: list[StoryEntry]
    movers: list[IssueSection]
    trend: Trend
    placed: list[StoryEntry]  # every story placed in a section, ranked, shown or beyond the cap
    one_sided: list[StoryEntry] = field(default_factory=list)  # covered by one side only, most sources first

    id = property(lambda self: self.data.id)
    period = property(lambda self: self.data.period)
    since = property(lambda self: self.data.since)
    until = property(lambda self: self.data.until)
    timezone = property(lambda self: self.data.timezone)

    @property
    def stories(self) -> list[StoryEntry]:
        return self.placed

    @property
    def n_stories(self) -> int:
        return len(self.placed)

    @property
    def n_items(self) -> int:
        return sum(s.n_items for s in self.placed)

    @property
    def n_sources(self) -> int:
        return len({src for s in self.placed for src in s.sources})

    @property
    def subscribed_names(self) -> list[str]:
        if self.issues is None:
            return []
        return [self.data.issue_names[i] for i in self.data.issue_names if i in self.issues]

    def issue_counts(self) -> dict[str, int]:
        return {s.id: s.count for s in self.sections}

    def top_issues(self, n: int = 3) -> list[str]:
        ranked = sorted((s for s in self.sections if s.id != OTHER), key=lambda s: -s.count)
        return [s.id for s in ranked[:n]]

    def for_issues(self, issues: list[str] | None) -> "DigestContent":
        """The same digest for a reader of these issues (None: all)."""
        return arrange(self.data, issues)

    def capped(self, per_issue: int) -> "DigestContent":
        """At most `per_issue` stories shown per section (the rest counted, in the archive)."""
        return arrange(replace(self.data, max_per_issue=per_issue), self.issues)

    def in_full(self) -> "DigestContent":
        """Every placed story shown: the archive copy, which the e-mail's "N more stories" links to."""
        if not any(section.more for section in self.sections):
            return self
        return self.capped(len(self.placed))


# ------------------------------------------------------------------ window


def digest_id(period: str, until: datetime, tz: str) -> str:
    """Digest ids name the local date (daily) or ISO week (weekly) they close, so re-runs replace."""
    local = until.astimezone(ZoneInfo(tz))
    if period == "weekly":
        year, week, _ = local.isocalendar()
        return f"weekly-{year}-W{week:02d}"
    if period == "daily":
        return f"daily-{local:%Y-%m-%d}"
    return f"custom-{local:%Y%m%dT%H%M}"


def window(
    store: Store,
    settings: Settings,
    period: str,
    since: datetime | None,
    until: datetime | None,
    now: datetime | None = None,
) -> tuple[str, datetime, datetime]:
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


# ------------------------------------------------------------------ placement and change


def place(scores: dict[str, float], allowed: set[str] | None, order: dict[str, int]) -> str | None:
    """The one section a story goes in: its strongest issue the reader follows.

    A story with no issue goes under "Other" (when the reader takes all issues or asked for it);
    a story whose issues the reader does not follow is left out.
    """
    if not scores:
        return OTHER if allowed is None or OTHER in allowed else None
    candidates = [i for i in scores if (allowed is None or i in allowed) and i in order]
    if not candidates:
        return None
    return max(candidates, key=lambda i: (scores[i], -order[i]))


def change_label(current: int, previous: int | None) -> str:
    """ "▲ 3×", "▲", "▼", "steady" or "▲ new" — how an issue moved against the period before."""
    if previous is None:
        return ""
    if current == previous:
        return "steady"
    if previous == 0:
        return "▲ new"
    if current > previous:
        ratio = current / previous
        return f"▲ {round(ratio)}×" if ratio >= 1.95 else "▲"
    return "▼"


def _count(stories: dict[str, dict[str, float]], allowed: set[str] | None, order: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for scores in stories.values():
        where = place(scores, allowed, order)
        if where is not None:
            out[where] = out.get(where, 0) + 1
    return out


def _label(when: datetime, period: str, tz: str) -> str:
    try:
        local = when.astimezone(ZoneInfo(tz))
    except OverflowError:  # within hours of the calendar's first or last day: label it in UTC
        local = when
    if period == "weekly":
        return f"W{local.isocalendar()[1]:02d}"
    return f"{local:%d %b}".lstrip("0")


def arrange(data: DigestData, issues: list[str] | None) -> DigestContent:
    """Sections, top stories, movers and trend of `data` for a reader of `issues` (None: all)."""
    allowed = set(issues) if issues is not None else None
    order = {issue: n for n, issue in enumerate(data.issue_names)}
    placed: dict[str, list[StoryEntry]] = {}
    for story in data.stories:
        where = place(story.issue_scores, allowed, order)
        if where is not None:
            placed.setdefault(where, []).append(story)

    history = [_count(w.stories, allowed, order) for w in data.windows]
    has_history = len(history) > 1 and any(sum(h.values()) for h in history[:-1])
    before = history[-2] if has_history else None

    sections = [
        IssueSection(
            issue,
            name,
            placed[issue][: data.max_per_issue],
            len(placed[issue]),
            None if before is None or issue == OTHER else before.get(issue, 0),
        )
        for issue, name in data.issue_names.items()
        if placed.get(issue)
    ]
    shown_ids = [s for s in data.issue_names if s != OTHER and (allowed is None or s in allowed)]
    movers: list[IssueSection] = []
    if before is not None:
        now_counts = {s.id: s.count for s in sections}
        moved = [
            IssueSection(i, data.issue_names[i], [], now_counts.get(i, 0), before.get(i, 0))
            for i in shown_ids
            if now_counts.get(i, 0) != before.get(i, 0)
        ]
        moved.sort(key=lambda s: (-abs(math.log2((s.count + 1) / (s.previous + 1))), -s.count, order[s.id]))
        movers = moved[:MOVERS]

    placed_keys = {s.key for stories in placed.values() for s in stories}
    all_placed = [s for s in data.stories if s.key in placed_keys]
    n_top = min(data.top_stories, len(all_placed) // 2)
    trend = Trend(
        labels=[_label(w.end, data.period, data.timezone) for w in data.windows],
        series=[TrendSeries(i, data.issue_names[i], [h.get(i, 0) for h in history]) for i in shown_ids],
    )
    one_sided = sorted((s for s in all_placed if s.one_sided), key=lambda s: (-s.n_sources, -s.relevance))
    return DigestContent(
        data, issues, sections, all_placed[:n_top], movers, trend, all_placed, one_sided[:ONE_SIDED_SHOWN]
    )


# ------------------------------------------------------------------ reading the store


def _link(item: Item) -> str | None:
    return item.url if item.url.startswith(("http://", "https://")) else None


def _trend_windows(period: str, since: datetime, until: datetime, n: int) -> list[tuple[datetime, datetime]]:
    """The digest's own window last, preceded by n-1 whole periods (custom: of the window's length)."""
    step = PERIOD_LENGTH.get(period) or max(until - since, timedelta(hours=1))
    out = [(since, until)]
    for _ in range(n - 1):
        start = out[0][0]
        out.insert(0, (start - step, start))
    return out


def _group(rows) -> dict[str, dict[str, float]]:
    stories: dict[str, dict[str, float]] = {}
    for item_id, story_id, _seen, issue, score in rows:
        scores = stories.setdefault(story_id or item_id, {})
        if issue is not None and score is not None and score > scores.get(issue, -1.0):
            scores[issue] = score
    return stories


def _story(key: str, members: list[Item], rep_id: str | None, labels, covered: dict[str, int]) -> StoryEntry:
    members = sorted(members, key=lambda i: (-(i.word_count or 0), as_utc(i.first_seen), i.id))
    rep = next((m for m in members if m.id == rep_id), members[0])
    scores: dict[str, float] = {}
    evidence: dict[str, str] = {}
    for m in members:
        for lab in labels.get(m.id, []):
            if lab.score > scores.get(lab.issue_id, -1.0):
                scores[lab.issue_id] = lab.score
                if lab.evidence:
                    evidence[lab.issue_id] = lab.evidence[0]["text"]
                else:
                    evidence.pop(lab.issue_id, None)
    summary = summarize(rep.title, rep.text)
    too_short = (rep.word_count or 0) < SHORT_TEXT_WORDS or not summary
    feed_summary = clean_feed_html(rep.summary_html) if too_short else None
    return StoryEntry(
        key=key,
        title=rep.title,
        url=rep.url,
        link=_link(rep),
        sources=sorted({m.source for m in members}),
        published=as_utc(min(as_utc(m.published or m.first_seen) for m in members)),
        reading_minutes=max(1, round((rep.word_count or 0) / WORDS_PER_MINUTE)),
        issue_scores=dict(sorted(scores.items(), key=lambda kv: -kv[1])),
        relevance=max(m.relevance or 0.0 for m in members),
        summary=summary,
        summary_html=feed_summary,
        evidence=evidence,
        n_items=len(members),
        updated=key in covered or any(m.id in covered for m in members),
    )


def load_digest_data(
    store: Store, settings: Settings, taxonomy: Taxonomy, ident: str, period: str, since: datetime, until: datetime
) -> DigestData:
    """Read the window's stories and the trend's history from the store."""
    items = relevant_items_between(store, since, until)
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.story_id or item.id, []).append(item)
    story_ids = [i.story_id for i in items if i.story_id]
    whole = story_members(store, sorted(set(story_ids)), until) if story_ids else {}
    reps = story_representatives(store, sorted(set(story_ids))) if story_ids else {}
    for sid, members in whole.items():
        if members:
            groups[sid] = members
    labels = labels_for(store, [m.id for ms in groups.values() for m in ms])
    covered = covered_story_keys(store, exclude_digest=ident)
    stories = [_story(key, ms, reps.get(key), labels, covered) for key, ms in groups.items()]
    stories.sort(key=lambda s: (-s.n_sources, -s.relevance, s.title))
    from flows.digest.sides import annotate

    annotate(store, settings, stories, groups)

    spans = _trend_windows(period, since, until, settings.digest.trend_periods)
    rows = label_rows_between(store, spans[0][0], spans[-2][1]) if len(spans) > 1 else []
    windows = [Window(start, end, _group(r for r in rows if start <= r[2] < end)) for start, end in spans[:-1]]
    windows.append(Window(since, until, {s.key: s.issue_scores for s in stories}))
    names = {i.id: i.name for i in taxonomy.issues}
    names[OTHER] = OTHER_NAME
    return DigestData(
        ident,
        period,
        since,
        until,
        settings.schedule.timezone,
        stories,
        windows,
        names,
        settings.digest.top_stories,
        settings.digest.max_items_per_issue,
    )


def select_content(
    store: Store,
    settings: Settings,
    taxonomy: Taxonomy,
    ident: str,
    period: str,
    since: datetime,
    until: datetime,
    issues: list[str] | None = None,
) -> DigestContent:
    """The digest of the window, arranged for `issues` (None: all issues and "Other")."""
    return arrange(load_digest_data(store, settings, taxonomy, ident, period, since, until), issues)
