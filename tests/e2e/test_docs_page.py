"""The local stage's interactive API docs, opened in headless Chromium like a frontend developer would."""

from __future__ import annotations

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_given_the_docs_page_when_opened_in_a_browser_then_operations_are_listed_and_try_it_calls_the_local_api(stack, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(stack.url("/docs/"), wait_until="networkidle")
            page.wait_for_selector(".opblock", timeout=20_000)
            summaries = page.locator(".opblock-summary-path").all_inner_texts()
            assert "/v1/signup" in " ".join(summaries)
            assert "/v1/me/redemptions" in " ".join(summaries)

            health = page.locator(".opblock-get").filter(has_text="/v1/health").first
            health.locator(".opblock-summary").click()
            health.get_by_role("button", name="Try it out").click()
            health.get_by_role("button", name="Execute").click()
            status = health.locator(".live-responses-table .response .response-col_status").first
            status.wait_for(timeout=20_000)
            assert status.inner_text().strip().startswith("200")
            assert '"status": "ok"' in health.locator(".live-responses-table .microlight").first.inner_text().replace("'", '"')
            page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
        finally:
            browser.close()
    # nothing fetched from outside this machine
    assert requested and all(u.startswith(stack.base) or u.startswith("data:") for u in requested), requested
