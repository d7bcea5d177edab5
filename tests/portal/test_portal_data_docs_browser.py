"""GX Data Docs read through the portal in a real browser, with everything off the machine refused.

Issue 17: councils' networks often have no internet, so the Data Docs the portal serves must
render from what the data directory holds (``safeguard.expectations.data_docs.make_offline``:
the local stylesheet in place of GX's CDN Bootstrap, no script). Every request that is not
for the portal on loopback is aborted and recorded; the page must still be styled by the
bundled stylesheet, and no request may fail (the review pages' Content-Security-Policy would
refuse a remote stylesheet before it is asked for: that shows as a failed request). Removing
or emptying the offline stylesheet, or a CDN link left in a page, fails the test.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from chromium import ARGS, CHROMIUM, require_chromium
from portal_client import live_server
from portal_fixture import PortalFixture, password_for

from safeguard.expectations.data_docs import OFFLINE_CSS
from safeguard.portal import create_app
from safeguard.portal.settings import PortalSettings

pytestmark = pytest.mark.browser

DOCS = "/review/files/data_docs/"
# what the bundled stylesheet sets: GX's own markup has no such styles without it
STYLED = """() => {
  const body = getComputedStyle(document.body);
  const th = document.querySelector('th');
  return {font: body.fontFamily, maxWidth: body.maxWidth,
          th: th ? getComputedStyle(th).backgroundColor : null,
          sheets: [...document.styleSheets].map(s => s.href)};
}"""


def test_data_docs_render_styled_through_the_portal_with_no_network(
    portal_data: PortalFixture, clock: object
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    assert (portal_data.data_dir / "data_docs" / OFFLINE_CSS).is_file()
    app = create_app(
        portal_data.data_dir,
        settings=PortalSettings(data_dir=portal_data.data_dir, clock=clock, secure_cookies=False),
    )  # type: ignore[arg-type]
    left_the_machine: list[str] = []
    failed: list[str] = []
    bad: list[str] = []
    styles: dict[str, dict[str, object]] = {}
    with live_server(app) as base, sync_playwright() as playwright:
        portal = urlsplit(base).netloc

        def route(r) -> None:  # type: ignore[no-untyped-def]
            if urlsplit(r.request.url).netloc == portal:
                r.continue_()
            else:
                left_the_machine.append(r.request.url)
                r.abort()

        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(15_000)
            page.route("**/*", route)
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("response", lambda r: bad.append(r.url) if r.status >= 400 else None)
            page.goto(base + "/login")
            page.get_by_label("Username").fill("riley")
            page.get_by_label("Password").fill(password_for("riley"))
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/login" not in url)

            page.goto(base + DOCS + "index.html")
            page.wait_for_load_state("load")
            styles["index"] = page.evaluate(STYLED)
            validation = page.locator("a[href*='validations/workers/']").first
            validation.click()
            page.wait_for_load_state("load")
            assert DOCS in page.url and "/validations/workers/" in page.url
            styles["validation"] = page.evaluate(STYLED)
        finally:
            browser.close()

    assert left_the_machine == []  # nothing asked for anything off the machine...
    assert failed == []  # ...or was refused by the portal's policy before asking
    assert bad == []  # every page and stylesheet linked is there
    for name, style in styles.items():
        assert "system-ui" in str(style["font"]), (name, style)
        assert style["maxWidth"] != "none", (name, style)  # 72rem from the bundled sheet
        assert style["th"] == "rgb(238, 241, 245)", (name, style)  # th { background: #eef1f5 }
        assert any(str(s).endswith(OFFLINE_CSS) for s in style["sheets"]), (name, style)  # type: ignore[attr-defined]
