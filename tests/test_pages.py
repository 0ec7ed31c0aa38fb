"""The page routes: static screens, the phone page, its QR code, and the headers they carry."""

from __future__ import annotations

import httpx

from .serverkit import ServerProcess, admin, bearer, clerk
from .wskit import Display


def decode_qr_svg(svg: bytes) -> list[str]:
    """The texts of the QR codes in an SVG: rendered to PNG by cairosvg, read by zxing-cpp."""
    import io

    import cairosvg
    import zxingcpp
    from PIL import Image

    png = cairosvg.svg2png(bytestring=svg, output_width=600, background_color="white")
    image = Image.open(io.BytesIO(png)).convert("L")
    return [result.text for result in zxingcpp.read_barcodes(image) if result.format == zxingcpp.BarcodeFormat.QRCode]


async def test_every_screen_is_served_with_a_strict_content_security_policy(client: httpx.AsyncClient) -> None:
    for path in ("/kiosk/", "/counter/", "/displays/guidance.html", "/displays/counter.html", "/displays/staff.html",
                 "/status", "/static/live.js", f"/t/{'a' * 22}"):
        r = await client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "server" not in r.headers
    assert (await client.get("/", follow_redirects=False)).headers["location"] == "/status"


async def test_the_qr_code_is_served_for_todays_tickets_only(client: httpx.AsyncClient, server: ServerProcess) -> None:
    await clerk(client, await admin(client), "pages-opener", counter="1")   # a staffed counter: koseki issues
    issued = (await client.post("/api/tickets", json={"queue": "koseki"}, headers=bearer(server.kiosk))).json()
    r = await client.get(f"/t/{issued['token']}/qr.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.startswith("<svg") or r.text.startswith("<?xml")
    assert decode_qr_svg(r.content) == [f"{server.url}/t/{issued['token']}"] == [issued["status_url"]]
    unknown = await client.get(f"/t/{'b' * 22}/qr.svg")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    bad = await client.get("/t/not a token!")
    assert bad.status_code == 404 and "Traceback" not in bad.text
    missing = await client.get("/kiosk/nothing-here.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_counter_events_carry_the_status_of_the_counter_and_its_queues(
        client: httpx.AsyncClient, server: ServerProcess) -> None:
    boss = await admin(client)
    display = await Display.open(server.ws_url)
    try:
        await display.send({"type": "subscribe", "id": 1, "topics": ["office"]})
        await display.until(lambda m: m["type"] == "snapshot")
        await clerk(client, boss, "pages-clerk", counter="7")
        message = await display.until(lambda m: m["type"] == "event" and m["event"]["type"] == "counter.opened")
        assert message["counters"] == [{"id": "7", "number": 7, "status": "open", "ticket": None,
                                        "ticket_status": None, "ticket_queue": None}]
        assert {q["queue"] for q in message["queues"]} == {"shomei", "koseki"}
        assert all(q["issuing"] for q in message["queues"])
    finally:
        await display.close()
