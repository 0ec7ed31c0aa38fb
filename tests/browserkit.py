"""Debian's Chromium driven by Playwright, axe-core injected, screenshots kept.

Screenshots go to ``test-artifacts/screens/`` at the repository root.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = ROOT / "test-artifacts" / "screens"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
#: WCAG 2.0/2.1/2.2 A and AA rules (JIS X 8341-3:2016 follows WCAG 2.0 AA).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def launch(playwright: Playwright) -> Browser:
    """Headless Debian Chromium."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def new_page(browser: Browser, width: int, height: int, **kwargs: Any) -> Page:
    """A page in a fresh context (own cookies and localStorage), collecting script errors."""
    context = browser.new_context(viewport={"width": width, "height": height}, **kwargs)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.script_errors = errors  # type: ignore[attr-defined]  # a list of our own, read back by the tests
    return page


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; the violations, each with its nodes' targets."""
    # Evaluated over the DevTools protocol: the pages' Content-Security-Policy forbids inline scripts.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    result = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}))",
        AXE_TAGS,
    )
    return list(result)


def assert_accessible(page: Page, what: str) -> None:
    """No axe-core violation on the page (message lists them)."""
    violations = axe_violations(page)
    assert not violations, f"{what}: " + json.dumps(violations, ensure_ascii=False, indent=1)


def screenshot(page: Page, name: str) -> Path:
    """Save ``test-artifacts/screens/<name>.png``."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
