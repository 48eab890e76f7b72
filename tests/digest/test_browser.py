"""The archive page and the email as a person sees them: headless Chromium screenshots at 700 and
380 px, checked for content, colour and no sideways scrolling. Set DIGEST_SCREENSHOTS=folder to keep
the PNGs for a look."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from newsroom import SINCE, UNTIL

from flows.config import load_taxonomy
from flows.digest.render import chart_png, render_email, render_html
from flows.digest.select import select_content
from flows.pipeline import store_for
from tests.material import chromium_path, unavailable

CHROMIUM = chromium_path()
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
    "--mute-audio",
]
ACCENT = (0x8A, 0x1C, 0x1C)
MEASURE = (
    "<script>parent.postMessage(window.name + ':' + document.documentElement.scrollWidth + 'x' + "
    "document.documentElement.scrollHeight, '*');</script>"
)
GAP = 20


def host(frames: list[tuple[str, str, int, int]], out: Path) -> Path:
    """One page showing each (name, file, width, height) in an iframe of that size, side by side.

    Phone-sized viewports are iframes: Chromium's windows are never narrower than ~500 px. Every
    frame reports its page's size (when it has the MEASURE script) into the host page's title.
    """
    x, parts = 0, []
    for name, src, width, height in frames:
        parts.append(
            f"<iframe name='{name}' src='{src}' style='position:absolute;top:0;left:{x}px;border:0;"
            f"width:{width}px;height:{height}px'></iframe>"
        )
        x += width + GAP
    out.write_text(
        "<!doctype html><html><head><title></title></head><body style='margin:0;background:#fff'>"
        "<script>addEventListener('message', e => document.title += e.data + '|')</script>"
        + "".join(parts)
        + "</body></html>"
    )
    return out


@pytest.fixture(autouse=True)
def _need_chromium() -> None:
    if CHROMIUM is None:
        unavailable("chromium is not installed (apt-get install chromium)")


def chromium(args: list[str], workdir: Path) -> subprocess.Popen:
    profile = tempfile.mkdtemp(dir=workdir, prefix="profile-")
    return subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def pages(settings, tmp_path: Path) -> dict[str, Path]:
    """The archive page, and the email HTML with its cid: chart pointed at the PNG beside it."""
    taxonomy = load_taxonomy(settings.issues_file)
    d = select_content(store_for(settings), settings, taxonomy, "daily-2026-05-12", "daily", SINCE, UNTIL)
    archive = tmp_path / "archive.html"
    png = chart_png(d)
    archive.write_text(render_html(d, png))
    mail = render_email(d, "https://news.example.org/digests/", "https://news.example.org/unsubscribe", png)
    (tmp_path / "chart.png").write_bytes(mail.chart_png)
    email_html = tmp_path / "email.html"
    email_html.write_text(mail.html.replace(f"cid:{mail.chart_cid}", "chart.png"))
    return {"archive": archive, "email": email_html}


def run(args: list[str], workdir: Path) -> str:
    proc = chromium(args, workdir)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, f"chromium failed: {args}"
    return out


def analyse(png: Path) -> dict:
    """How much of the shot differs from its background, and whether the accent colour shows."""
    import numpy as np
    from PIL import Image

    px = np.asarray(Image.open(png).convert("RGB"))[::2, ::2].reshape(-1, 3).astype(np.int32)
    packed = (px[:, 0] << 16) | (px[:, 1] << 8) | px[:, 2]
    counts = np.bincount(packed, minlength=1 << 24)
    background = np.array(divmod(divmod(int(counts.argmax()), 256)[0], 256) + (int(counts.argmax()) % 256,))
    ink = float((np.abs(px - background).sum(axis=1) > 60).mean())
    accent = int((np.abs(px - np.array(ACCENT)).sum(axis=1) < 40).sum())
    return {"ink": ink, "accent": accent, "colours": int((counts > 0).sum())}


def test_archive_and_email_render_in_chromium_at_700_and_380(newsroom, tmp_path):
    from PIL import Image

    files = pages(newsroom, tmp_path)
    keys = [(name, width) for name in files for width in (700, 380)]
    # One run measures all four layouts: each page reports its scroll size from inside its frame.
    for name, path in files.items():
        path.with_name(f"{name}-measure.html").write_text(path.read_text().replace("</body>", MEASURE + "</body>"))
    frames = [(f"{n}-{w}", f"{n}-measure.html", w, 900) for n, w in keys]
    total = sum(w for _, w in keys) + GAP * len(keys)
    dom = run(
        [
            f"--window-size={total},900",
            "--virtual-time-budget=3000",
            "--dump-dom",
            host(frames, tmp_path / "measure.html").as_uri(),
        ],
        tmp_path,
    )
    dims = {}
    for name, width in keys:
        m = re.search(rf"{name}-{width}:(\d+)x(\d+)\|", dom)
        assert m, f"no measurement for {name} at {width}px"
        dims[(name, width)] = (int(m.group(1)), int(m.group(2)))
    for (name, width), (scroll_w, height) in dims.items():
        assert scroll_w <= width, f"{name} scrolls sideways at {width}px: {scroll_w}px wide"
        assert height > 2500, f"{name} at {width}px is only {height}px tall"

    # One run shoots all four, each frame as tall as its page; then each is cropped out.
    tallest = max(h for _, h in dims.values())
    frames = [(f"{n}-{w}", files[n].name, w, dims[(n, w)][1]) for n, w in keys]
    sheet = tmp_path / "sheet.png"
    run(
        [f"--window-size={total},{tallest}", f"--screenshot={sheet}", host(frames, tmp_path / "shoot.html").as_uri()],
        tmp_path,
    )
    keep = os.environ.get("DIGEST_SCREENSHOTS")
    x = 0
    for name, width in keys:
        shot = tmp_path / f"{name}-{width}.png"
        Image.open(sheet).crop((x, 0, x + width, dims[(name, width)][1])).save(shot)
        x += width + GAP
        stats = analyse(shot)
        assert stats["ink"] > 0.03, f"{shot.name} looks blank: {stats}"
        assert stats["colours"] > 50 and stats["accent"] > 25, f"{shot.name}: no text or accent: {stats}"
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(keep) / shot.name)
