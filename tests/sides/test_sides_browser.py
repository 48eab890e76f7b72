"""The both-sides digest as a reader sees it: the archive page and the e-mail in Chromium
(Playwright, /usr/bin/chromium) at 700 and 380 px. Both statements show, side by side when there
is room and one above the other on a phone, and nothing scrolls sideways. Set
SIDES_SCREENSHOTS=folder (docs/img) to keep the PNGs."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _need_browser() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"no browser at {CHROMIUM}")
        pytest.skip(f"no browser at {CHROMIUM}")


def _pages(settings) -> dict[str, str]:
    from flows import pipeline
    from flows.config import load_taxonomy
    from flows.digest.render import render_email
    from flows.digest.select import arrange, load_digest_data
    from flows.store.digests import get_digest
    from flows.store.items import as_utc

    result = pipeline.run_digest(settings, pipeline.DigestOptions())
    store = pipeline.store_for(settings)
    digest = get_digest(store, result.id)
    data = load_digest_data(
        store,
        settings,
        load_taxonomy(settings.issues_file),
        digest.id,
        digest.period,
        as_utc(digest.since),
        as_utc(digest.until),
    )
    email = render_email(arrange(data, None))
    return {
        "archive": result.html_path.read_text(encoding="utf-8"),
        # the chart travels as a CID attachment; inline it as a mail client shows it
        "email": email.html.replace(
            f"cid:{email.chart_cid}", "data:image/png;base64," + base64.b64encode(email.chart_png).decode()
        ),
    }


@pytest.mark.parametrize("width", [700, 380])
def test_statements_side_by_side_and_stacked(both_sides, width, tmp_path):
    # Playwright's sync API runs its own event loop: started here, after the ingest's asyncio.run
    from playwright.sync_api import sync_playwright

    _need_browser()
    settings, _ = both_sides
    pages = _pages(settings)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            _check(browser, pages, width, tmp_path)
        finally:
            browser.close()


def _check(browser, pages: dict[str, str], width: int, tmp_path: Path) -> None:
    keep = os.environ.get("SIDES_SCREENSHOTS")
    for name, html in pages.items():
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.set_content(html, wait_until="load")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {width}px"
        us = page.locator(".say-us").first
        china = page.locator(".say-china").first
        assert us.is_visible() and china.is_visible()
        assert "washington says" in us.inner_text().lower() and "beijing says" in china.inner_text().lower()
        a, b = us.bounding_box(), china.bounding_box()
        if width >= 600:
            assert abs(a["y"] - b["y"]) < 2 and a["x"] < b["x"], (name, a, b)  # side by side
        else:
            assert b["y"] >= a["y"] + a["height"] - 1, (name, a, b)  # stacked
        assert page.locator("#one-sided").inner_text().count("covered only by Chinese state media") == 1
        story = page.locator(".story, .top").filter(has=page.locator(".says")).first
        story.scroll_into_view_if_needed()
        shot = tmp_path / f"sides-{name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(keep) / shot.name)
            story.screenshot(path=str(Path(keep) / f"sides-{name}-{width}-story.png"))
        page.close()
