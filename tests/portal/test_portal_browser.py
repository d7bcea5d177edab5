"""End to end in a real browser: log in, open a flag, read reasons and evidence, record a judgement.

Drives Debian's chromium (Playwright cannot download its own browser on these machines) against
a uvicorn server on loopback. Screenshots go to test-artefacts/portal/ for CI to keep.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chromium import ARGS, CHROMIUM, require_chromium
from portal_client import audit_entries, live_server
from portal_fixture import PortalFixture, password_for

from safeguard.portal import create_app
from safeguard.portal.records import read_portal_table
from safeguard.portal.settings import PortalSettings

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "portal"


def test_practitioner_opens_a_flag_and_records_a_judgement(
    portal_data: PortalFixture, clock: object
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    flag = portal_data.flags["A1"]
    app = create_app(
        portal_data.data_dir,
        settings=PortalSettings(data_dir=portal_data.data_dir, clock=clock, secure_cookies=False),
    )  # type: ignore[arg-type]
    with live_server(app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(base + "/")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            page.keyboard.press("Tab")  # keyboard users get a visible skip link first
            expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
            page.screenshot(path=str(SCREENSHOTS / "01-login.png"))
            page.get_by_label("Username").fill("alex")
            page.get_by_label("Password").fill(password_for("alex"))
            page.get_by_role("button", name="Sign in").click()

            expect(page.get_by_role("heading", name="My flagged families")).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "02-my-flagged-families.png"), full_page=True)
            page.get_by_role("link", name=f"Flag {flag}").click()

            expect(
                page.get_by_role("paragraph").filter(
                    has_text="2 police-recorded domestic abuse incidents"
                )
            ).to_be_visible()
            expect(page.get_by_text("This is an indicator, not a decision.")).to_be_visible()
            evidence = page.get_by_role(
                "table", name="Records behind: 2 police-recorded domestic abuse"
            )
            expect(evidence.get_by_role("cell", name="Ada Testperson")).to_be_visible()
            expect(evidence.get_by_role("cell", name="2026-01-10")).to_be_visible()
            expect(page.get_by_role("img", name="Contribution of each reason")).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "03-family-page.png"), full_page=True)

            page.get_by_role("button", name="Record judgement").click()  # nothing chosen
            expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
            expect(
                page.get_by_role("link", name="Select your professional judgement")
            ).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "04-judgement-errors.png"))

            page.get_by_label("Disagree with the indicator").check()
            page.get_by_label("Reason for your judgement").fill(
                "Incidents were already reviewed at the MARAC; school reports good progress."
            )
            page.get_by_role("button", name="Record judgement").click()
            expect(page.get_by_role("heading", name="Judgement recorded")).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "05-judgement-recorded.png"), full_page=True)
        finally:
            browser.close()

    saved = read_portal_table(portal_data.data_dir, "judgements")
    assert saved is not None
    assert saved[["flag_id", "username", "decision"]].to_records(index=False).tolist() == [
        (flag, "alex", "disagree")
    ]
    actions = [(e["action"], e["actor"]) for e in audit_entries(portal_data.data_dir)]
    assert ("decision", "alex") in actions and ("case_view", "alex") in actions
    assert all(
        (SCREENSHOTS / name).stat().st_size > 5_000
        for name in ("01-login.png", "03-family-page.png", "05-judgement-recorded.png")
    )
