"""Run summaries for people watching the service: markdown and table rows, no Prefect here.

`flows.service.flows` publishes these as Prefect artifacts on every run, so the UI shows what a
digest contains and how each feed fared. Titles and errors come from the web: they are escaped
before they reach markdown.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flows.records import SourceReport

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def md_escape(text: str) -> str:
    """Text shown literally in markdown: specials backslash-escaped, newlines flattened."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def md_link(title: str, url: str | None) -> str:
    """A markdown link to an http(s) URL, else the escaped title alone."""
    if not url or not url.startswith(("http://", "https://")):
        return md_escape(title)
    return f"[{md_escape(title)}]({quote(url, safe=':/?#&=%@+,;~!$*')})"


def archive_link(result: dict, archive_url: str | None) -> str:
    """Where the digest can be read: its public URL when the archive is published, else its path."""
    html_name = f"{result['id']}.html"
    if archive_url:
        base = archive_url.rstrip("/")
        return f"{md_link(html_name, f'{base}/{html_name}')} · {md_link('archive index', f'{base}/index.html')}"
    return f"`{result['html_path']}` · archive index `{result['index_path']}`"


def digest_markdown(
    result: dict, *, since: datetime | None, until: datetime | None, timezone: str, archive_url: str | None = None
) -> str:
    """The digest at a glance: window, counts, where to read it, and the top stories of each issue."""
    lines = [f"# Digest {result['id']}", ""]
    if since and until:
        tz = ZoneInfo(timezone)
        lines += [
            f"**Window:** {since.astimezone(tz):%a %d %b %Y %H:%M} – "
            f"{until.astimezone(tz):%a %d %b %Y %H:%M} ({timezone})",
            "",
        ]
    lines += [
        f"**{_count(result['n_stories'], 'story', 'stories')}** from "
        f"{_count(result['n_sources'], 'source')} ({_count(result['n_items'], 'item')})",
        "",
        f"**Read it:** {archive_link(result, archive_url)}",
        "",
    ]
    sent = [d for d in result.get("deliveries") or [] if d.get("status") == "sent"]
    if result.get("deliveries"):
        lines += [f"**Delivered:** {len(sent)} of {len(result['deliveries'])} recipients", ""]
    if not result.get("headlines"):
        lines.append("No new relevant items in this period.")
    for section in result.get("headlines") or []:
        lines += [f"## {md_escape(section['name'])} ({section.get('n_stories', len(section['stories']))})", ""]
        for n, story in enumerate(section["stories"], 1):
            sources = ", ".join(md_escape(s) for s in story.get("sources") or [])
            lines.append(f"{n}. {md_link(story['title'], story.get('link'))}" + (f" — {sources}" if sources else ""))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def issue_table(result: dict) -> list[dict]:
    """One row per issue section of the digest: stories and items in it."""
    return [
        {
            "issue": section["name"],
            "id": section["id"],
            "stories": section.get("n_stories", len(section["stories"])),
            "items": section.get("n_items", len(section["stories"])),
        }
        for section in result.get("headlines") or []
    ]


def feed_health_rows(sources: list[SourceReport], health: list[dict] | None = None) -> list[dict]:
    """This run's result per source, joined with the store's feed health when it is known."""
    by_key: dict[str, dict] = {}
    for row in health or []:
        by_key.setdefault(row.get("url") or "", row)
        by_key.setdefault(row.get("name") or "", row)
    rows = []
    for report in sources:
        row = {
            "source": report.source,
            "kind": report.kind,
            "status": report.status,
            "new": report.items_new,
            "seen": report.items_seen,
            "error": report.error or "",
        }
        known = by_key.get(report.source)
        if known:
            row.update(
                {
                    "health": known.get("health"),
                    "failures": known.get("consecutive_failures"),
                    "last_success": known.get("last_success"),
                    "next_due": known.get("next_due"),
                    "items_total": known.get("items_total"),
                }
            )
        rows.append(row)
    return rows


def reports_from_rows(rows: list[dict]) -> list[SourceReport]:
    """Per-source results back from `feed_health_rows` rows (a shard's artifact, read by its parent)."""
    return [
        SourceReport(
            str(r["source"]),
            str(r["status"]),
            int(r.get("new") or 0),
            int(r.get("seen") or 0),
            r.get("error") or None,
            kind=str(r.get("kind") or "feed"),
        )
        for r in rows
    ]


def ingest_markdown(result: dict) -> str:
    """New, already stored and classified counts, and each failing source with its error."""
    failed = [s for s in result["sources"] if s["status"] == "error"]
    lines = [
        "# Ingest",
        "",
        f"**{result['items_new']} new** items, {result['items_seen']} already stored, "
        f"{result['classified']} classified, from {len(result['sources'])} sources.",
        "",
    ]
    if failed:
        lines += [f"**{len(failed)} failed:**", ""]
        lines += [f"- {md_escape(s['source'])}: {md_escape(s.get('error') or 'error')}" for s in failed]
    return "\n".join(lines).rstrip() + "\n"
