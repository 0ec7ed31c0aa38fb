"""The same visitor's flow in Chromium, Firefox ESR and WebKit, each from Debian's packages (issue 14 section 3).

The flow (``tests/browser/flows/ticket.mjs``) is written once: a kiosk paired by typing its code, a clerk
signing in at the counter terminal, the kiosk's procedure opening by itself, a ticket issued, the phone
page from its QR code, the call pushed to the phone. Each browser runs it against its own real server;
the server's own record is then checked against what the browser saw. axe-core runs in every browser.
Screenshots: ``test-artifacts/crossbrowser/<browser>-*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .crossbrowser import BROWSERS, FlowFailed, run_flow
from .serverkit import ADMIN_PASSWORD, ServerProcess, password_of

CLERK = "tanaka"
COUNTER = "4"      # serves 証明発行 (shomei) in the demo office


@dataclass
class Office:
    """A fresh demo office: its server, a kiosk waiting to be paired and a clerk who has not signed in."""

    proc: ServerProcess
    http: httpx.Client
    kiosk_code: str

    @property
    def params(self) -> dict[str, str]:
        return {"kiosk_code": self.kiosk_code, "clerk": CLERK, "password": password_of(CLERK), "counter": COUNTER}


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    proc = ServerProcess(tmp_path / "data", env={"MADOGUCHI_PUBLIC_RATE": "10000/minute"}).start()
    try:
        with httpx.Client(base_url=proc.url, timeout=10) as http:
            r = http.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
            assert r.status_code == 200, r.text
            admin = {"Authorization": f"Bearer {r.json()['token']}"}
            r = http.post("/api/devices", headers=admin, json={"kind": "kiosk", "name": "1階 発券機"})
            assert r.status_code == 201, r.text
            code = r.json()["pairing_code"]
            r = http.post("/api/staff", headers=admin, json={"username": CLERK, "password": password_of(CLERK),
                                                               "role": "clerk", "display_name": "職員 田中"})
            assert r.status_code == 201, r.text
            yield Office(proc, http, code)
    finally:
        proc.stop()


@pytest.mark.parametrize("browser", BROWSERS)
def test_a_ticket_from_a_kiosk_paired_by_code_to_the_call_on_the_phone(browser: str, office: Office) -> None:
    run = run_flow(browser, office.proc.url, "ticket", office.params)
    values = run.values
    print(f"{browser} {run.version}: {run.seconds:.1f} s (launch {run.launch_seconds:.1f} s), "
          f"call → phone {values['call_to_phone_ms']} ms, counter open → kiosk {values['open_to_kiosk_ms']} ms, "
          f"viewports {values['viewports']}")
    # The server's record agrees with what the browser showed.
    ticket = office.http.get(f"/api/public/tickets/{run.values['token']}").json()
    assert ticket["display"] == run.values["number"] == "1"       # the office's first ticket of the day
    assert ticket["state"] == "called" and ticket["counter_number"] == int(COUNTER), ticket
    assert run.values["call_to_phone_ms"] <= 5000
    assert [s.name for s in run.steps][-1] == "counter: 呼出; the phone shows the counter"
    # axe-core ran on the pairing, start and issued kiosk screens and the phone page before and after the call.
    assert set(run.axe) == {"kiosk pairing", "kiosk start", "kiosk issued", "phone waiting", "phone called"}
    run.assert_accessible()
    if browser == "webkit":
        assert run.script_errors is None                # WebDriver classic does not report them
        assert run.version.startswith("MiniBrowser/")
        # MiniBrowser's window is at least 447 px wide, so the phone is a little wider than asked.
        assert run.values["viewports"]["phone"]["height"] == 844
    else:
        assert run.script_errors == [], run.script_errors
        assert run.values["viewports"]["phone"] == {"width": 390, "height": 844}
    assert run.values["viewports"]["kiosk"] == {"width": 1080, "height": 1920}
    for path in run.screenshots:
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), path


def test_a_failing_flow_names_its_step_and_keeps_screenshots(office: Office) -> None:
    params = {**office.params, "kiosk_code": "a-code-no-kiosk-has"}
    with pytest.raises(FlowFailed) as failed:
        run_flow("chromium", office.proc.url, "ticket", params, wait_ms=1500)
    message = str(failed.value)
    assert "flow ticket failed at step 「kiosk: paired by its code」" in message, message
    assert "手続きを選んでください" in message and "did not appear within 1500 ms" in message, message
    shot = Path(message.split("screenshots:\n", 1)[1].splitlines()[0].strip())
    assert shot.name == "chromium-failed-kiosk.png" and shot.read_bytes().startswith(b"\x89PNG"), message


def test_an_unknown_browser_is_refused_before_anything_starts() -> None:
    with pytest.raises(ValueError, match="unknown browser 'safari'"):
        run_flow("safari", "http://127.0.0.1:9", "ticket", {})
