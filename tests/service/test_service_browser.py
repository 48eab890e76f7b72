"""The Prefect UI in headless Chromium: each served deployment's Custom run form, field by field;
then find `digest/daily`, start a custom run from the form, see it complete.

Set `UI_SCREENSHOTS=dir` to keep the screenshots (else they go to the test's tmp_path)."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path

import pytest
from tests.material import unavailable
from tests.service.harness import Service

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        unavailable(f"no system Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright import sync_api

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()


def custom_run_form(browser, service: Service, deployment: str):
    """A page on the Custom run form of `deployment` (its name in the deployments list)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    page.set_default_timeout(30_000)
    page.goto(f"{service.server.url}/v2/deployments", wait_until="networkidle")
    page.get_by_role("link", name=deployment, exact=True).first.click()
    page.wait_for_url("**/deployments/deployment/**")
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Custom run").click()
    page.wait_for_url("**/run?**")
    page.get_by_role("heading", name="Parameters").wait_for()
    return page


def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("UI_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def field(page, name: str, required: bool = False):
    """The input the form's label for the parameter ("since (Optional)") points to. (Not
    `get_by_label`: a select's own aria-label, "Select period", names it instead.)"""
    from playwright.sync_api import expect

    text = name if required else f"{name} (Optional)"
    label = page.locator("label").filter(has_text=re.compile(rf"^{re.escape(text)}$"))
    expect(label).to_have_count(1)
    return page.locator(f'[id="{label.get_attribute("for")}"]')


def options(page, name: str) -> list[str]:
    """Open a select and read the choices it offers (then close it)."""
    from playwright.sync_api import expect

    found = page.get_by_role("option")
    expect(found).to_have_count(0)  # the previous select's list has closed
    field(page, name, required=name == "feeds").click()
    expect(found.first).to_be_visible()
    # read every option's text in one call: the list re-renders while it opens, and a handle taken
    # from .all() can go stale (inner_text then waited 30 s for a detached element)
    choices = [t.strip() for t in found.all_inner_texts()]
    page.keyboard.press("Escape")
    return choices


FORMS = {
    # deployment link name -> (parameter, what its input must be)
    "daily": {
        "period": "select",
        "since": "date-time",
        "until": "date-time",
        "issues": "multi-select",
        "send": "switch",
        "to": "text",
        "config_path": "select",
    },
    "scheduled": {
        "sources": "select",
        "max_items": "number",
        "force": "switch",
        "shards": "number",
        "shard_deployment": "text",
        "config_path": "select",
    },
    "served": {
        "feeds": "multi-select",
        "max_items": "number",
        "force": "switch",
        "parent_lease": "text",
        "config_path": "select",
    },
}


@pytest.mark.parametrize("deployment", FORMS)
def test_custom_run_form_has_one_labelled_input_per_parameter(service: Service, browser, deployment, tmp_path):
    from playwright.sync_api import expect

    page = custom_run_form(browser, service, deployment)
    for name, kind in FORMS[deployment].items():
        control = field(page, name, required=name == "feeds")
        expect(control, f"{deployment}: {name}").to_have_count(1)
        if kind == "date-time":  # a calendar with a time and a time zone, not free text
            expect(control).to_have_attribute("aria-haspopup", "dialog")
            expect(control).to_contain_text("MM/DD/YYYY hh:mm aa")
        elif kind in ("select", "multi-select"):
            expect(control).to_have_attribute("aria-haspopup", "listbox")
        elif kind == "number":
            expect(control).to_have_attribute("type", "number")
        elif kind == "switch":
            expect(control).to_have_attribute("role", "switch")
        else:
            expect(control).to_have_js_property("tagName", "TEXTAREA")
    # Optional parameters are their own input, not a "type | None" switch set to None.
    expect(page.get_by_text("Property is type")).to_have_count(0)
    expect(page.get_by_role("tab", name="None", exact=True)).to_have_count(0)
    page.screenshot(path=str(screenshots(tmp_path) / f"form-{deployment}.png"), full_page=True)

    from flows.config import load_settings, load_taxonomy
    from flows.sources.feedlist import all_feeds

    settings = load_settings(service.config)
    if deployment == "daily":
        assert options(page, "issues") == load_taxonomy(settings.issues_file).ids + ["other"]
        assert options(page, "period") == ["daily", "weekly"]
    elif deployment == "scheduled":
        assert options(page, "sources") == ["all", "seeds", "feeds", "Local A", "Local B"]
    else:
        assert options(page, "feeds") == [f.url for f in all_feeds(settings)]


def test_custom_run_form_picks_a_window_and_refuses_a_bad_address(service: Service, browser, tmp_path):
    """The date-time picker's value passes the server's check; a bad address is refused in the form
    with the reason, and no run is created."""
    from playwright.sync_api import expect

    page = custom_run_form(browser, service, "daily")
    field(page, "since").click()
    calendar = page.get_by_role("dialog")
    calendar.get_by_role("button", name="Go to the Previous Month").click()
    calendar.get_by_role("button", name="1st,").first.click()
    page.keyboard.press("Escape")
    expect(field(page, "since")).to_contain_text("/01/")
    expect(field(page, "since")).to_contain_text("12:00 AM")
    field(page, "to").fill("not an address")
    runs_before = len(service.api.runs())
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.get_by_text("'not an address' does not match").first).to_be_visible()
    expect(page.get_by_text("Validation failed for field 'to'")).to_be_visible()
    page.screenshot(path=str(screenshots(tmp_path) / "form-refused.png"), full_page=True)
    assert not page.get_by_text("Validation failed for field 'since'").count()
    assert len(service.api.runs()) == runs_before


def test_start_digest_daily_from_the_ui_and_watch_it_complete(service: Service, browser, tmp_path):
    from playwright.sync_api import expect

    page = custom_run_form(browser, service, "daily")
    # The form is generated from the typed parameters: descriptions, and the issue ids to pick from.
    expect(page.get_by_text("Only these issue ids (empty: every issue, and `other`).")).to_be_visible()
    run_name = f"from-the-ui-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Run Name").fill(run_name)
    field(page, "issues").click()
    page.get_by_role("option", name="taiwan", exact=True).click()
    page.get_by_role("option", name="trade", exact=True).click()
    page.keyboard.press("Escape")
    tmp_path = screenshots(tmp_path)
    page.screenshot(path=str(tmp_path / "form.png"), full_page=True)

    clicked = time.monotonic()
    page.get_by_role("button", name="Submit", exact=True).click()
    # back on the deployment's runs tab: the new run is listed; open it
    page.get_by_role("link", name=run_name, exact=True).first.click()
    page.wait_for_url("**/runs/flow-run/**")
    expect(page.get_by_text("Completed", exact=True).first).to_be_visible(timeout=120_000)
    elapsed = time.monotonic() - clicked
    page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
    # the run's artifacts are on its page: the digest summary and the per-issue table
    page.get_by_role("tab", name="Artifacts").click()
    expect(page.get_by_text("digest-summary").first).to_be_visible()
    expect(page.get_by_text("digest-issues").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "artifacts.png"), full_page=True)
    print(f"\nUI: Submit → run page shows Completed in {elapsed:.1f}s (screenshots in {tmp_path})")

    (run,) = [r for r in service.api.runs(name={"any_": [run_name]})]
    assert run["state"]["type"] == "COMPLETED"
    assert run["parameters"]["issues"] == ["taiwan", "trade"]
    assert run["parameters"]["period"] == "daily"
    assert not {"since", "until", "to", "max_items"} & set(run["parameters"])  # left empty: not sent
    assert {"digest-summary", "digest-issues"} <= set(service.api.artifacts(run["id"]))
