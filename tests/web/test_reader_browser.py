"""The reader in a real browser (Playwright driving Debian's Chromium): search for a phrase, open the
story, correct a label with the "wrong label?" button, see it take effect — on the page, in the
store and in search. Screenshots at 1280 and 380 px go to a temporary folder, or to the folder
READER_SCREENSHOTS names (docs/img for the ones in the docs)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"no system Chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no system Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()


def shots_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("READER_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def no_sideways_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"sideways scrolling at {width} px"


def test_search_open_story_correct_label(reader, browser, tmp_path):
    from playwright.sync_api import expect

    from flows.pipeline import store_for
    from flows.search.results import search
    from flows.store.items import corrections
    from flows.store.labels import current_labels

    base, settings = reader
    store = store_for(settings)
    shots = shots_folder(tmp_path)
    dialogs: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.set_default_timeout(20_000)

    page.goto(f"{base}/")
    expect(page.get_by_role("heading", name="Archive")).to_be_visible()
    page.get_by_role("searchbox", name="Search the archive").fill('"arms package"')
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*/search\?q=.*"))
    first = page.locator("ol.list > li").first
    expect(first.locator("mark").first).to_have_text(re.compile("arms package", re.I))
    page.screenshot(path=str(shots / "reader-search-1280.png"), full_page=True)

    first.locator("a.title").click()
    page.wait_for_url(re.compile(r".*/story/s-taiwan-arms$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Taiwan")
    reuters = page.locator(".item", has_text="US approves $2 billion arms package")
    expect(reuters.locator('.label[data-issue="military"]')).to_have_count(1)
    item_id = reuters.get_attribute("id").removeprefix("item-")
    assert "military" in [i for i, _, _ in current_labels(store, item_id)[1]]
    page.screenshot(path=str(shots / "reader-story-1280.png"), full_page=True)

    reuters.get_by_role("button", name="Wrong label: remove Military").click()
    page.wait_for_url(re.compile(r".*/story/s-taiwan-arms\?corrected=military.*"))
    expect(page.get_by_role("status")).to_contain_text("Correction recorded")
    reuters = page.locator(".item", has_text="US approves $2 billion arms package")
    expect(reuters.locator('.label[data-issue="military"]')).to_have_count(0)
    expect(reuters.locator('.label[data-issue="taiwan"]')).to_have_count(1)
    assert "military" not in [i for i, _, _ in current_labels(store, item_id)[1]]
    last = corrections(store)[-1]
    assert (last.item_id, last.issue_id, last.action, last.note) == (item_id, "military", "remove", "web reader")
    found = search(store, 'issue:military "arms package"')
    assert item_id not in [h.item_id for s in found.stories for h in s.hits]

    reuters.get_by_label("Missing label?").select_option("diplomacy")
    reuters.get_by_role("button", name="Add label").click()
    page.wait_for_url(re.compile(r".*corrected=diplomacy.*"))
    expect(page.locator(f'#item-{item_id} .label[data-issue="diplomacy"]')).to_contain_text("analyst's correction")

    page.set_viewport_size({"width": 380, "height": 800})
    page.goto(f"{base}/story/s-taiwan-arms")
    no_sideways_scroll(page, 380)
    page.screenshot(path=str(shots / "reader-story-380.png"), full_page=True)
    page.goto(f"{base}/search?q=" + "taiwan%20since%3A2026-05-01")
    no_sideways_scroll(page, 380)
    page.screenshot(path=str(shots / "reader-search-380.png"), full_page=True)
    page.goto(f"{base}/issue/taiwan")
    no_sideways_scroll(page, 380)
    expect(page.locator(".bars .bar")).to_have_count(12)
    page.screenshot(path=str(shots / "reader-issue-380.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/issue/taiwan")
    page.screenshot(path=str(shots / "reader-issue-1280.png"), full_page=True)
    page.goto(f"{base}/search?q=alert%20trade")  # the hostile item's page runs nothing
    expect(page.locator("ol.list > li").first).to_be_visible()
    assert dialogs == []
    page.close()
