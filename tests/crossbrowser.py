"""One user flow, written once, run in Chromium, Firefox ESR and WebKitGTK (issue 14 section 3).

The flows are JavaScript modules in ``tests/browser/flows/`` written against one small interface
(``tests/browser/flowkit.mjs``: open a page, fill a field by its label, click a button by its name,
wait for pushed text, axe-core, screenshots); ``tests/browser/run-flow.mjs`` runs one of them in one
browser (``tests/browser/drivers.mjs``: puppeteer-core for Debian's Chromium over the DevTools protocol
and Firefox ESR over WebDriver BiDi; selenium-webdriver for WebKitGTK's MiniBrowser through
WebKitWebDriver on a private Xvfb screen). This module starts that runner against a real server and
turns its result into a :class:`FlowRun`, or a :class:`FlowFailed` naming the step, what the page
showed and the screenshots taken (``test-artifacts/crossbrowser/<browser>-failed-<page>.png``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BROWSER_DIR = ROOT / "tests" / "browser"
RUN_FLOW = BROWSER_DIR / "run-flow.mjs"
#: The browsers a flow runs in: Debian's chromium, firefox-esr and WebKitGTK (webkit2gtk-driver).
BROWSERS = ("chromium", "firefox", "webkit")
#: The npm packages the runner needs (tests/browser/package.json; ``./dev test`` runs ``npm ci``).
PACKAGES = ("puppeteer-core", "selenium-webdriver", "axe-core")


class FlowFailed(AssertionError):
    """A flow did not run to its end; the message names the browser, the step, the error, the
    screenshots of every open page and the end of the runner's log. An ``AssertionError``, so pytest
    reports it as a failing test."""


@dataclass(frozen=True)
class Step:
    """A step the flow announced: its name and when it began (seconds since the runner started)."""

    name: str
    at_s: float


@dataclass(frozen=True)
class FlowRun:
    """A flow that ran to its end in one browser.

    ``version`` is the browser's own (``Chrome/156.0…``, ``firefox/153.8.0``, ``MiniBrowser/2.50.6``);
    ``seconds`` the whole run, browser start and stop included, ``launch_seconds`` the start alone;
    ``values`` what the flow returned; ``axe`` axe-core's WCAG A/AA violations by the page state they
    were found in; ``script_errors`` the pages' uncaught errors, or None where the driver cannot see
    them (WebDriver classic, WebKit); ``screenshots`` the PNG files the flow saved.
    """

    browser: str
    version: str
    flow: str
    seconds: float
    launch_seconds: float
    steps: tuple[Step, ...]
    values: dict[str, Any]
    axe: dict[str, list[dict[str, Any]]]
    script_errors: list[str] | None
    screenshots: tuple[Path, ...]
    log: str

    def assert_accessible(self) -> None:
        """No axe-core violation in any page state the flow checked; raises ``AssertionError`` listing them."""
        found = {what: violations for what, violations in self.axe.items() if violations}
        assert not found, f"{self.browser}: axe-core found " + json.dumps(found, ensure_ascii=False, indent=1)


def missing_parts() -> list[str]:
    """What the runner needs and does not find here (Node.js, the npm packages); empty when all is there."""
    missing = [] if shutil.which("node") else ["node (Debian package nodejs)"]
    missing += [f"{name} (npm ci --prefix tests/browser)" for name in PACKAGES
                if not (BROWSER_DIR / "node_modules" / name / "package.json").is_file()]
    return missing


def run_flow(browser: str, base_url: str, flow: str, params: dict[str, str], *, timeout: float = 180,
             wait_ms: int = 10_000) -> FlowRun:
    """Run ``tests/browser/flows/<flow>.mjs`` in ``browser`` (one of :data:`BROWSERS`) against the server
    at ``base_url``, with ``params`` (the flow's own inputs, e.g. a pairing code). One browser process,
    started and stopped by the runner; ``timeout`` in seconds for the whole run; ``wait_ms`` how long
    each step waits for an element or a text before the flow fails.

    Raises :class:`FlowFailed` when the flow fails, the runner dies, prints no result or outlives
    ``timeout``; ``ValueError`` for an unknown browser; ``RuntimeError`` when Node.js or the npm
    packages are missing (``./dev test`` installs them).
    """
    if browser not in BROWSERS:
        raise ValueError(f"unknown browser {browser!r}: one of {', '.join(BROWSERS)}")
    if missing := missing_parts():
        raise RuntimeError("the cross-browser runner needs: " + ", ".join(missing) + " (./dev test installs them)")
    cmd = ["node", str(RUN_FLOW), "--browser", browser, "--base", base_url, "--flow", flow,
           "--params", json.dumps(params), "--wait-ms", str(wait_ms)]
    # Its own process group: a runner that outlives `timeout` gets SIGTERM with the driver and Xvfb it started
    # (puppeteer-core then closes its browser, which it starts in a group of its own), SIGKILL 10 s later.
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                          start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                stdout, stderr = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                stdout, stderr = proc.communicate()
            raise FlowFailed(f"{browser}: flow {flow} still running after {timeout:.0f} s\n{tail(stderr)}") from None
    lines = stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    if not result:
        raise FlowFailed(f"{browser}: flow {flow} printed no result (exit {proc.returncode})\n"
                         f"{tail(stdout)}\n{tail(stderr)}")
    if not result.get("ok"):
        error = result.get("error") or {}
        shots = "\n".join(f"  {path}" for path in result.get("screenshots", []) if "-failed-" in path)
        raise FlowFailed(f"{browser} ({result.get('version')}): flow {flow} failed at step "
                         f"「{error.get('step')}」: {error.get('message')}\nscreenshots:\n{shots or '  (none)'}\n"
                         f"{tail(stderr)}")
    return FlowRun(
        browser=browser, version=str(result["version"]), flow=flow, seconds=float(result["seconds"]),
        launch_seconds=float(result["launch_seconds"]),
        steps=tuple(Step(s["name"], float(s["at_s"])) for s in result["steps"]),
        values=dict(result["values"]), axe=dict(result["axe"]), script_errors=result["script_errors"],
        screenshots=tuple(Path(p) for p in result["screenshots"]), log=stderr,
    )


def tail(text: str, lines: int = 40) -> str:
    """The last ``lines`` lines of a log."""
    return "\n".join(text.strip().splitlines()[-lines:])
