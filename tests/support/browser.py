"""Debian's Chromium driven by Playwright (from PyPI), for the member web app's browser tests.

One browser per test session (per xdist worker), shared; each test gets a fresh
context (its own sessionStorage), phone-sized. axe-core comes from the web app's
own node_modules (the npm registry), injected as a script: no CDN.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 740}
# axe impacts that fail a test; "moderate" and "minor" findings are reported by axe, not failed on.
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    assert (WEB_DIST / "index.html").is_file(), "web/dist is not built: `make test` (or `make web`) builds it"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def axe_findings(page: Any, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[str]:
    """axe-core's WCAG 2.x A/AA rules on the page as it is now: one line per violation of these impacts."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the app's Content-Security-Policy (no inline
        # script) stays on, and axe is not loaded from anywhere.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})")
    found = []
    for violation in result["violations"]:
        if violation["impact"] in impacts:
            targets = [json.dumps(node["target"]) for node in violation["nodes"][:3]]
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {', '.join(targets)}")
    return found
