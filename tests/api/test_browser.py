"""The planner flow in a real headless Chromium (Debian's, driven by playwright through its
executable path): sign in, search, read the reasons, request an override, sign in as an approver
and approve it, and the product's history shows both names. Screenshots go to tests/artifacts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SKU = "SKU000001"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium is not installed (make setup)"
)


def _sign_in(page, base: str, name: str, token: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/search")


def test_planner_and_approver_flow_in_chromium(live, served):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_context(viewport={"width": 1200, "height": 1600}).new_page()
            _sign_in(page, live, "pat", served.tokens["pat"])
            page.get_by_label("Product id or description").fill(SKU)
            page.get_by_role("button", name="Search").click()
            page.get_by_role("link", name=SKU).click()
            expect(page.locator("h1")).to_contain_text(SKU)
            reasons = page.locator("#reasons li")
            assert reasons.count() >= 3
            assert "the strongest reason for" in reasons.first.inner_text()
            expect(page.locator("svg.waterfall")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "product_page.png"), full_page=True)
            page.set_viewport_size({"width": 1100, "height": 760})
            page.screenshot(path=str(ARTIFACTS / "product_page_top.png"))

            page.get_by_label("Segment").select_option("other")
            page.get_by_label("Reason (approvers and the audit read it)").fill("clearance sale")
            page.get_by_role("button", name="Request override").click()
            expect(page.get_by_role("status")).to_contain_text("requested; an approver decides")
            page.get_by_role("button", name="Log out").click()

            _sign_in(page, live, "ann", served.tokens["ann"])
            page.get_by_role("link", name="Approvals").click()
            page.get_by_role("button", name="Approve override").first.click()
            expect(page.get_by_role("status")).to_contain_text("approved by ann")
            page.goto(f"{live}/products/{SKU}")
            audit = page.locator("#audit").inner_text()
            assert "override_request" in audit and "override_approve" in audit
            assert "pat" in audit and "ann" in audit
            page.screenshot(path=str(ARTIFACTS / "product_page_after_approval.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "product_page.png").stat().st_size > 10_000
