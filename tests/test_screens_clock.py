"""Midnight and a clock step seen in a real browser (issue 13, points 2 and 3).

The phone page of a ticket left at the day's close says so, in Japanese first
and English, in words (not colour alone); the staff display shows the clock
step. axe-core finds nothing on either.
"""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from server.core.calendar import TOKYO

from .browserkit import assert_accessible, launch, new_page, screenshot
from .serverkit import ADMIN_PASSWORD, ServerProcess, password_of
from .test_clock import set_clock


def test_the_phone_page_says_reception_has_ended_and_the_staff_display_shows_the_clock_step(tmp_path: Path) -> None:
    offset = tmp_path / "clock-offset"
    day = datetime.now(TOKYO).date()
    set_clock(offset, datetime.combine(day, time(23, 0), TOKYO))
    proc = ServerProcess(tmp_path / "data", env={"MADOGUCHI_CLOCK_OFFSET_FILE": str(offset)}).start()
    try:
        with httpx.Client(base_url=proc.url, timeout=10) as http:
            token = http.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
            admin = {"Authorization": f"Bearer {token}"}
            r = http.post("/api/staff", headers=admin,
                          json={"username": "yoru", "password": password_of("yoru"), "role": "clerk"})
            assert r.status_code == 201, r.text
            yoru = http.post("/api/auth/login", json={"username": "yoru", "password": password_of("yoru")}).json()
            assert http.post("/api/counters/4/sign-in",
                             headers={"Authorization": f"Bearer {yoru['token']}"}).status_code == 200
            r = http.post("/api/tickets", json={"queue": "shomei"}, headers={"Authorization": f"Bearer {proc.kiosk}"})
            assert r.status_code == 201, r.text
            ticket = r.json()
        with sync_playwright() as pw:
            browser = launch(pw)
            try:
                phone = new_page(browser, 390, 844)
                phone.goto(f"{proc.url}/t/{ticket['token']}")
                phone.locator("#message[data-state=waiting]").wait_for()
                staff = new_page(browser, 1920, 1080)
                staff.goto(f"{proc.url}/displays/staff.html#token={proc.display}")
                staff.locator("#main:not([aria-busy])").wait_for()
                set_clock(offset, datetime.combine(day, time(23, 59, 59), TOKYO))  # a step of an hour, then midnight
                message = phone.locator("#message[data-state=unserved]")
                message.wait_for(timeout=15_000)
                assert "本日の受付は終了しました" in message.inner_text()
                assert "Today's reception has ended" in message.inner_text()
                assert phone.locator("#number").inner_text() == ticket["display"]
                assert_accessible(phone, "phone page after the day's close")
                screenshot(phone, "phone-day-closed")
                phone.reload()  # still known after a reload on the new day
                phone.locator("#message[data-state=unserved]").wait_for()
                alert = staff.locator("#alerts li.clock-jump")
                alert.wait_for(timeout=10_000)
                assert "サーバーの時計" in alert.inner_text() and "進みました" in alert.inner_text()
                assert_accessible(staff, "staff display with a clock step")
                screenshot(staff, "staff-display-clock-step")
                assert not phone.script_errors and not staff.script_errors  # type: ignore[attr-defined]  # set by new_page
            finally:
                browser.close()
    finally:
        proc.stop()
