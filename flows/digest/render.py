"""Rendering: one jinja2 template (autoescaped) for the archive page and the email, plus a text twin.

The archive page is standalone (chart inline as a data: URI, styles in <style>). The email HTML is
the same template with the chart referenced by `cid:` and every style inlined by css-inline, kept
under `MAX_EMAIL_HTML` bytes (Gmail clips longer messages) by showing fewer stories per section.
"""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import css_inline
from jinja2 import Environment, PackageLoader, select_autoescape

from flows.digest.chart import render_chart
from flows.digest.select import DigestContent

MAX_EMAIL_HTML = 100_000
CHART_CID = "trend-chart"

_env = Environment(
    loader=PackageLoader("flows.digest", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False, minify_css=True)


def _in_zone(value: datetime, tz: str) -> datetime:
    """The time in the digest's zone; a date at the calendar's edge (year 1 or 9999, which a
    hostile feed can send) cannot move to every zone and stays in UTC instead of failing."""
    try:
        return value.astimezone(ZoneInfo(tz))
    except OverflowError:
        return value.astimezone(timezone.utc)


def _local(value: datetime, tz: str, fmt: str = "%a %d %b %Y") -> str:
    return _in_zone(value, tz).strftime(fmt)


def _day(value: datetime, tz: str) -> str:
    local = _in_zone(value, tz)
    return f"{local.day} {local:%b}"


def _trend_class(change: str) -> str:
    return "up" if change.startswith("▲") else "down" if change.startswith("▼") else "flat"


_env.filters.update(local=_local, day=_day, trend_class=_trend_class)
_text_env = _env.overlay(autoescape=False)


def heading(period: str) -> str:
    return {"daily": "Daily briefing", "weekly": "Weekly briefing"}.get(period, "Briefing")


def dateline(period: str, since: datetime, until: datetime, tz: str) -> str:
    """The period in words: "Tuesday 12 May 2026", "Week 19 · 5 – 12 May 2026", "1 – 12 May 2026"."""
    start, end = _in_zone(since, tz), _in_zone(until, tz)
    if period == "daily":
        return f"{end:%A} {end.day} {end:%B %Y}"
    first = f"{start.day} {start:%b}" + ("" if start.year == end.year else f" {start.year}")
    span = f"{first} – {end.day} {end:%b %Y}"
    return f"Week {end.isocalendar()[1]} · {span}" if period == "weekly" else span


def subject_line(content: DigestContent, names: dict[str, str] | None = None) -> str:
    """ "US–China daily · 12 May 2026 · Taiwan, Trade & tariffs, Diplomacy": period and top issues."""
    end = _in_zone(content.until, content.timezone)
    word = content.period if content.period in ("daily", "weekly") else "digest"
    names = names or content.data.issue_names
    top = [names.get(i, i) for i in content.top_issues(3)]
    tail = ", ".join(top) if top else ("Other news" if content.sections else "no new stories")
    return f"US–China {word} · {end.day} {end:%b %Y} · {tail}"


def _preheader(content: DigestContent) -> str:
    lead = (
        content.top[0].title
        if content.top
        else (content.sections[0].stories[0].title if content.sections else "No new stories")
    )
    return f"{content.n_stories} stories from {content.n_sources} sources. {lead}"[:180]


def _context(content: DigestContent, mode: str, **extra) -> dict:
    return dict(
        d=content,
        mode=mode,
        heading=heading(content.period),
        dateline=dateline(content.period, content.since, content.until, content.timezone),
        subscribed=content.subscribed_names,
        preheader=_preheader(content),
        **extra,
    )


def chart_png(content: DigestContent) -> bytes:
    return render_chart(content.trend)


def render_html(content: DigestContent, png: bytes | None = None) -> str:
    """The standalone archive page (chart inline), with every story: e-mails link to it for the
    stories beyond their sections' caps."""
    content = content.in_full()
    png = chart_png(content) if png is None else png
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return _env.get_template("digest.html.j2").render(
        **_context(
            content,
            "archive",
            chart_src=src,
            chart_alt=content.trend.alt_text(),
            archive_link=None,
            unsubscribe_link=None,
        )
    )


def render_text(
    content: DigestContent, mode: str = "archive", archive_link: str | None = None, unsubscribe_link: str | None = None
) -> str:
    """The text twin: of the archive page (every story) or, in "email" mode, of the e-mail."""
    if mode == "archive":
        content = content.in_full()
    return _text_env.get_template("digest.txt.j2").render(
        **_context(
            content,
            mode,
            chart_alt=content.trend.alt_text(),
            archive_link=archive_link,
            unsubscribe_link=unsubscribe_link,
        )
    )


def archive_link(archive_url: str | None, digest_id: str) -> str | None:
    """The public URL of a digest's archive page, when the archive is published somewhere."""
    return f"{archive_url.rstrip('/')}/{digest_id}.html" if archive_url else None


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str  # inlined, cid: chart, under MAX_EMAIL_HTML bytes
    text: str
    chart_png: bytes
    chart_cid: str  # Content-ID without the angle brackets
    chart_alt: str


def render_email(
    content: DigestContent,
    archive_url: str | None = None,
    unsubscribe_link: str | None = None,
    png: bytes | None = None,
) -> RenderedEmail:
    """HTML (inlined, chart by cid:) and text of the digest as one reader receives it."""
    png = chart_png(content) if png is None else png
    link = archive_link(archive_url, content.id)
    cid = f"{CHART_CID}.{content.id}@uschina-digest"
    per_issue = content.data.max_per_issue
    while True:
        html = _inliner.inline(
            _env.get_template("digest.html.j2").render(
                **_context(
                    content,
                    "email",
                    chart_src=f"cid:{cid}",
                    chart_alt=content.trend.alt_text(),
                    archive_link=link,
                    unsubscribe_link=unsubscribe_link,
                )
            )
        )
        if len(html.encode("utf-8")) <= MAX_EMAIL_HTML or per_issue <= 1:
            break
        per_issue = max(1, per_issue // 2)
        content = content.capped(per_issue)
    text = render_text(content, "email", link, unsubscribe_link)
    return RenderedEmail(subject_line(content), html, text, png, cid, content.trend.alt_text())


# ------------------------------------------------------------------ archive files


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write via a temporary file and rename, so a killed run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, mode)  # an archive is for reading (mkstemp makes 0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_digest(content: DigestContent, folder: Path) -> tuple[Path, Path]:
    """`<id>.html` (standalone page) and `<id>.txt` in the archive folder."""
    html_path, text_path = folder / f"{content.id}.html", folder / f"{content.id}.txt"
    write_atomic(html_path, render_html(content))
    write_atomic(text_path, render_text(content))
    return html_path, text_path


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def write_index(digests: list, folder: Path, names: dict[str, str], tz: str = "UTC") -> Path:
    """`index.html`: every digest written, newest first, with its counts and top issues."""
    path = folder / "index.html"
    titles = {
        g.id: f"{heading(g.period)} · {dateline(g.period, _aware(g.since), _aware(g.until), tz)}" for g in digests
    }
    write_atomic(path, _env.get_template("index.html.j2").render(digests=digests, names=names, titles=titles))
    return path
