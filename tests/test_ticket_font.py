"""A server without the ticket's Japanese font says so at start, and the ticket picture answers a
clear error in the one envelope (not a bare 500), while everything else keeps working."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from server.launch import ServerProcess as Running
from tests.serverkit import ServerProcess, admin, bearer, clerk


async def staff_counter_4(proc: Running) -> None:
    """A clerk signs in at counter 4 (証明係), so 証明発行 issues (no counter open: 準備中)."""
    async with httpx.AsyncClient(base_url=proc.url, timeout=10) as client:
        await clerk(client, await admin(client), "font-clerk", counter="4")


def issue(proc: Running) -> str:
    """Issue a ticket with the demo kiosk once a clerk has opened counter 4; its token."""
    asyncio.run(staff_counter_4(proc))
    r = httpx.post(proc.url + "/api/tickets", json={"queue": "shomei"}, headers=bearer(proc.kiosk), timeout=10)
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def font_warnings(proc: Running) -> list[str]:
    return [line for line in proc.lines if "WARNING" in line and "fonts-noto-cjk" in line]


def test_a_missing_ticket_font_is_a_warning_at_start_and_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-font.ttc"
    proc = ServerProcess(tmp_path / "data", {"MADOGUCHI_TICKET_FONT": str(missing)}).start()
    try:
        warnings = font_warnings(proc)
        assert len(warnings) == 1, proc.lines
        assert "MADOGUCHI_TICKET_FONT" in warnings[0] and str(missing) in warnings[0]
        token = issue(proc)   # issuing does not need the font
        r = httpx.get(f"{proc.url}/t/{token}/ticket.png", timeout=10)
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/json")
        error = r.json()["error"]
        assert error["code"] == "ticket_font_missing"
        assert "fonts-noto-cjk" in error["message"] and str(tmp_path) not in r.text   # no server paths leave
        assert not [line for line in proc.lines if "Traceback" in line], proc.lines
        assert any("ticket picture not drawn" in line for line in proc.lines), proc.lines
        # The rest still works: the phone page, its QR code, the public status of the ticket.
        for path in (f"/t/{token}", f"/t/{token}/qr.svg", f"/api/public/tickets/{token}"):
            assert httpx.get(proc.url + path, timeout=10).status_code == 200, path
    finally:
        proc.stop()


def test_with_the_font_there_is_no_warning_and_the_picture_is_drawn(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "data").start()
    try:
        assert font_warnings(proc) == [], proc.lines
        r = httpx.get(f"{proc.url}/t/{issue(proc)}/ticket.png", timeout=10)
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG"), r.text[:200]
    finally:
        proc.stop()
