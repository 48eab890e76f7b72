"""The search query language: words, "phrases", OR, -not, and field filters.

    entity list                    both words (stemmed: "lists" matches too)
    "entity list"                  the phrase
    huawei OR zte                  either word (OR binds tighter than the implied AND)
    tariffs -soybeans              tariffs, but not soybeans
    chip*                          a prefix
    issue:taiwan source:xinhua side:china since:2026-03-01 until:2026-03-31 story:ID

`parse` turns a query into a `Query` (or raises `QueryError` with a one-line message naming the
problem); the store translates a `Query` into its dialect's full-text syntax, never the user's
text, so nothing typed can reach the SQL or the FTS syntax unquoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

FILTERS = ("issue", "source", "side", "since", "until", "story")
SIDES = ("china", "us", "other")


class QueryError(ValueError):
    """A query that cannot be understood; the message is one line, fit to show the user."""


@dataclass(frozen=True)
class Term:
    """A word (`phrase` False, possibly a `prefix*`) or a quoted phrase, as the user typed it."""

    text: str
    phrase: bool = False
    prefix: bool = False

    @property
    def words(self) -> list[str]:
        return WORD.findall(self.text.lower())


@dataclass
class Query:
    """A parsed query: every group must match (AND); a group matches when any of its terms does."""

    groups: list[list[Term]] = field(default_factory=list)
    exclude: list[Term] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    sides: list[str] = field(default_factory=list)
    stories: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None  # exclusive: until:2026-03-31 takes in the whole 31st

    @property
    def has_text(self) -> bool:
        return bool(self.groups)

    @property
    def is_empty(self) -> bool:
        return not (
            self.groups
            or self.exclude
            or self.issues
            or self.sources
            or self.sides
            or self.stories
            or self.since
            or self.until
        )


WORD = re.compile(r"\w+", re.UNICODE)
# A token: -? then field:"quoted" | field:value | "quoted" | bare word; what is left is an error.
TOKEN = re.compile(
    r'\s*(?P<neg>-)?(?:(?P<field>[A-Za-z_]+):(?:"(?P<fquoted>[^"]*)"|(?P<fvalue>[^\s"]+))'
    r'|"(?P<quoted>[^"]*)"|(?P<word>[^\s"]+))'
)


def _date(name: str, value: str, end: bool) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name}:{value} is not a date (use YYYY-MM-DD, e.g. {name}:2026-03-01)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if end and len(value) <= 10:  # a bare date ends at the end of that day
        when += timedelta(days=1)
    return when


def _term(raw: str, phrase: bool) -> Term | None:
    if phrase:
        return Term(raw, phrase=True) if WORD.search(raw) else None
    prefix = raw.endswith("*")
    core = raw.rstrip("*")
    if not WORD.search(core):
        return None
    return Term(core, prefix=prefix and len(WORD.findall(core)) == 1)


def parse(text: str) -> Query:
    """Parse a query; `QueryError` (one line) when it cannot be read."""
    if len(text) > 1000:
        raise QueryError("query too long (at most 1000 characters)")
    if text.count('"') % 2:
        raise QueryError('unbalanced quote: close the phrase with a second "')
    q = Query()
    pending_or = False
    pos = 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip():
                raise QueryError(f"cannot read the query at {text[pos : pos + 20]!r}")
            break
        pos = m.end()
        neg = bool(m.group("neg"))
        name = m.group("field")
        if name is not None:
            name = name.lower()
            value = m.group("fquoted") if m.group("fquoted") is not None else m.group("fvalue")
            if name not in FILTERS:
                # Not a filter (a URL, "10:30"): read it as words.
                term = _term(f"{name}:{value}", phrase=True)
                if term is not None:
                    pending_or = _add(q, term, neg, pending_or)
                continue
            if pending_or:
                raise QueryError(f"OR must stand between two words or phrases, not before {name}:")
            if neg:
                raise QueryError(f"-{name}: is not supported; filters only narrow (use words with -)")
            if not value:
                raise QueryError(f"{name}: needs a value, e.g. {name}:{_EXAMPLE[name]}")
            _filter(q, name, value)
            continue
        if m.group("quoted") is not None:
            term = _term(m.group("quoted"), phrase=True)
            if term is None:
                continue
        else:
            word = m.group("word")
            if word.endswith(":") and word[:-1].lower() in FILTERS:
                name = word[:-1].lower()
                raise QueryError(f"{name}: needs a value, e.g. {name}:{_EXAMPLE[name]}")
            if word == "OR":
                if not q.groups or pending_or or neg:
                    raise QueryError("OR must stand between two words or phrases")
                pending_or = True
                continue
            term = _term(word, phrase=False)
            if term is None:
                continue
        pending_or = _add(q, term, neg, pending_or)
    if pending_or:
        raise QueryError("OR must stand between two words or phrases (nothing after it)")
    if q.exclude and not (q.groups or q.issues or q.sources or q.sides or q.stories or q.since or q.until):
        raise QueryError("a query cannot be only exclusions: say what to look for, e.g. tariffs -soybeans")
    return q


def _add(q: Query, term: Term, neg: bool, pending_or: bool) -> bool:
    if neg:
        if pending_or:
            raise QueryError("OR cannot join an exclusion (-word)")
        q.exclude.append(term)
    elif pending_or:
        q.groups[-1].append(term)
    else:
        q.groups.append([term])
    return False


_EXAMPLE = {
    "issue": "taiwan",
    "source": "xinhua",
    "side": "china",
    "since": "2026-03-01",
    "until": "2026-03-31",
    "story": "ID",
}


def _filter(q: Query, name: str, value: str) -> None:
    if name == "issue":
        q.issues.append(value.lower())
    elif name == "source":
        q.sources.append(value)
    elif name == "side":
        side = value.lower()
        if side not in SIDES:
            raise QueryError(f"side:{value}: unknown side (use one of {', '.join(SIDES)})")
        q.sides.append(side)
    elif name == "story":
        q.stories.append(value)
    elif name == "since":
        q.since = _date(name, value, end=False)
    elif name == "until":
        q.until = _date(name, value, end=True)
    if q.since and q.until and q.since >= q.until:
        raise QueryError("since: must be before until:")
