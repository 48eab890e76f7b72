"""The Prefect UI in headless Chromium: find `digest/daily`, start a custom run from the form, see it complete."""

from __future__ import annotations

import os
import shutil
import time
import uuid

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
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


def test_start_digest_daily_from_the_ui_and_watch_it_complete(service: Service, browser, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    page.set_default_timeout(30_000)
    page.goto(f"{service.server.url}/v2/deployments", wait_until="networkidle")
    page.get_by_role("link", name="daily", exact=True).first.click()
    page.wait_for_url("**/deployments/deployment/**")
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Custom run").click()
    page.wait_for_url("**/run?**")

    # The form is generated from the typed parameters: descriptions, and the issue ids to pick from.
    expect(page.get_by_text("Only these issue ids (empty: every issue, and `other`).")).to_be_visible()
    run_name = f"from-the-ui-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Run Name").fill(run_name)
    page.get_by_text("list", exact=True).click()                  # issues: a list rather than None
    page.get_by_text("Select", exact=True).click()
    page.get_by_role("option", name="taiwan", exact=True).click()
    page.get_by_role("option", name="trade", exact=True).click()
    page.keyboard.press("Escape")
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
    assert {"digest-summary", "digest-issues"} <= set(service.api.artifacts(run["id"]))
