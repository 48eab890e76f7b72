"""Rendering: jinja2 (autoescaped) HTML and plain text, written to the digests folder with an index."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from flows.digest.select import DigestContent

_env = Environment(
    loader=PackageLoader("flows.digest", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _local(value: datetime, tz: str, fmt: str = "%a %d %b %Y") -> str:
    """Local time of the digest's zone; a date at the calendar's edge (year 1 or 9999, which a
    hostile feed can send) cannot move to every zone and is shown in UTC instead of failing."""
    try:
        return value.astimezone(ZoneInfo(tz)).strftime(fmt)
    except OverflowError:
        return value.astimezone(timezone.utc).strftime(fmt)


_env.filters["local"] = _local
_text_env = _env.overlay(autoescape=False)


def render_html(content: DigestContent) -> str:
    return _env.get_template("digest.html.j2").render(d=content)


def render_text(content: DigestContent) -> str:
    return _text_env.get_template("digest.txt.j2").render(d=content)


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a killed run never leaves half a digest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_digest(content: DigestContent, folder: Path) -> tuple[Path, Path]:
    html_path, text_path = folder / f"{content.id}.html", folder / f"{content.id}.txt"
    write_atomic(html_path, render_html(content))
    write_atomic(text_path, render_text(content))
    return html_path, text_path


def write_index(digests: list, folder: Path, names: dict[str, str]) -> Path:
    """`index.html`: every digest written, newest first, with its counts and top issues."""
    path = folder / "index.html"
    write_atomic(path, _env.get_template("index.html.j2").render(digests=digests, names=names))
    return path
