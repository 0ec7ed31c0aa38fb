"""The HTTP API on a real server: issuing, counter work, who may do what, bad input."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import server.app  # noqa: F401  (registers every route)
from server.api.registry import SPECS
from server.errors import CODES

from .serverkit import ADMIN_PASSWORD, ServerProcess, admin, bearer, clerk, password_of


def assert_envelope(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert code in CODES and CODES[code] == status
    text = r.text.lower()
    for leak in ("traceback", "/work/", "site-packages", "uvicorn", "starlette", "python", "sqlalchemy"):
        assert leak not in text, leak
    error: dict[str, Any] = body["error"]
    return error


async def staff_state(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    r = await client.get("/api/staff/state", headers=headers)
    assert r.status_code == 200
    state: dict[str, Any] = r.json()
    return state


def count_tickets(state: dict[str, Any]) -> int:
    return sum(len(q["tickets"]) for q in state["queues"])


async def staff_the_floor(client: httpx.AsyncClient) -> None:
    """Staff counter 1 (戸籍・証明) and 10 (住民異動・印鑑・マイナンバー) so every procedure
    issues tickets (a queue with no staffed counter is 準備中 and issues none)."""
    a = await admin(client)
    for counter in ("1", "10"):
        await clerk(client, a, f"opener-{counter}", counter=counter)


async def test_a_kiosk_issues_a_ticket_and_a_double_tap_prints_only_one(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    await staff_the_floor(client)
    kiosk = bearer(server.kiosk)
    first = await client.post("/api/tickets", json={"queue": "shomei"}, headers={**kiosk, "Idempotency-Key": "tap-1"})
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["queue"] == "shomei" and body["display"] == str(body["number"])
    assert body["status_url"] == f"{server.url}/t/{body['token']}"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", body["token"])       # 128 bits, URL-safe
    again = await client.post("/api/tickets", json={"queue": "shomei"}, headers={**kiosk, "Idempotency-Key": "tap-1"})
    assert again.status_code == 201, again.text
    assert again.json()["ticket"] == body["ticket"] and again.json()["token"] == body["token"]
    other = await client.post("/api/tickets", json={"queue": "shomei", "idempotency_key": "tap-2"}, headers=kiosk)
    assert other.status_code == 201, other.text
    assert other.json()["ticket"] != body["ticket"]
    assert other.json()["number"] == body["number"] + 1


async def test_tokens_are_unique_and_random(server: ServerProcess, client: httpx.AsyncClient) -> None:
    await staff_the_floor(client)
    kiosk = bearer(server.kiosk)
    tokens = set()
    for _ in range(30):
        r = await client.post("/api/tickets", json={"queue": "inkan"}, headers=kiosk)
        assert r.status_code == 201, r.text
        tokens.add(r.json()["token"])
    assert len(tokens) == 30
    assert len({t[:6] for t in tokens}) > 25


async def test_a_certificate_visit_through_the_counter_terminal_api(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    await staff_the_floor(client)
    a = await admin(client)
    kiosk = bearer(server.kiosk)
    issued = (await client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)).json()
    desk = await clerk(client, a, "clerk-flow", counter="4")
    handover = await clerk(client, a, "clerk-handover", counter="24")
    r = await client.post("/api/counters/4/call", json={"ticket": issued["ticket"]}, headers=desk)
    assert r.status_code == 200, r.text
    assert r.json()["ticket"]["status"] == "called" and r.json()["ticket"]["counter"] == "4"
    public = (await client.get(f"/api/public/tickets/{issued['token']}")).json()
    assert public["state"] == "called" and public["counter_number"] == 4
    for action in ("recall", "recall", "start"):
        assert (await client.post(f"/api/counters/4/{action}", headers=desk)).status_code == 200
    r = await client.post("/api/counters/4/finish", json={}, headers=desk)
    assert r.json()["ticket"]["queue"] == "kofu" and r.json()["ticket"]["status"] == "waiting"
    state = (await client.get("/api/state")).json()
    assert issued["display"] in state["handover_ready"]
    r = await client.post("/api/counters/24/call", json={"ticket": issued["ticket"]}, headers=handover)
    assert r.status_code == 200
    r = await client.post("/api/counters/24/finish", headers=handover)
    detail = (await client.get(f"/api/tickets/{issued['ticket']}", headers=desk)).json()
    assert detail["status"] == "done"
    steps = [(s["queue"], s["status"], s["counter"]) for s in detail["steps"]]
    assert steps == [("shomei", "done", "4"), ("kofu", "done", "24")]
    assert (await client.get(f"/api/public/tickets/{issued['token']}")).json()["state"] == "done"


async def test_domain_errors_come_back_as_409_and_change_nothing(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    desk = await clerk(client, a, "clerk-err", counter="7")
    before = count_tickets(await staff_state(client, desk))
    assert_envelope(await client.post("/api/counters/7/recall", headers=desk), 409, "counter_idle")
    assert_envelope(await client.post("/api/counters/7/finish", headers=desk), 409, "counter_idle")
    assert_envelope(await client.post("/api/tickets/nope/reinstate", headers=desk), 404, "unknown_ticket")
    assert_envelope(await client.post("/api/tickets", json={"queue": "kofu"}, headers=desk), 409, "queue_not_issuable")
    assert_envelope(await client.post("/api/tickets", json={"queue": "nope"}, headers=desk), 404, "unknown_queue")
    assert count_tickets(await staff_state(client, desk)) == before


async def test_who_may_do_what(server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    kiosk = bearer(server.kiosk)
    display = bearer(server.display)
    desk = await clerk(client, a, "clerk-auth", counter="5")
    # A kiosk can only issue tickets.
    assert_envelope(await client.post("/api/counters/5/call-next", headers=kiosk), 403, "forbidden")
    assert_envelope(await client.get("/api/staff/state", headers=kiosk), 403, "forbidden")
    assert_envelope(await client.post("/api/tickets", json={"queue": "shomei"}, headers=display), 403, "forbidden")
    # A clerk acts only at the counter they signed in to.
    assert_envelope(await client.post("/api/counters/6/call-next", headers=desk), 403, "wrong_counter")
    assert_envelope(await client.post("/api/counters/6/sign-in", headers=desk), 409, "conflict")
    new_admin = {"username": "x", "password": "0123456789a", "role": "admin"}
    assert_envelope(await client.post("/api/staff", json=new_admin, headers=desk), 403, "forbidden")
    # A supervisor may act at any counter.
    sup = await clerk(client, a, "supervisor-1", role="supervisor")
    assert (await client.post("/api/counters/6/sign-in", headers=sup)).status_code == 200
    assert (await client.post("/api/counters/6/sign-out", headers=sup)).status_code == 200
    # Anonymous can change nothing, and a revoked or made-up token is anonymous.
    made_up = bearer("made-up-token")
    anonymous = await client.post("/api/tickets", json={"queue": "shomei"}, headers=made_up)
    assert_envelope(anonymous, 401, "unauthenticated")


async def test_anonymous_gets_401_on_every_non_public_route(server: ServerProcess, client: httpx.AsyncClient) -> None:
    checked = 0
    for spec in SPECS:
        if spec.access == "public":
            continue
        path = re.sub(r"{\w+}", "x1", spec.path)
        r = await client.request(spec.method, path, json={})
        assert_envelope(r, 401, "unauthenticated")
        assert r.headers.get("www-authenticate") == "Bearer"
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("body, headers, status, code", [
    (b"{not json", {"content-type": "application/json"}, 400, "malformed_json"),
    (b"[1, 2]", {"content-type": "application/json"}, 422, "invalid_request"),
    (b'{"queue": "shomei", "colour": "red"}', {"content-type": "application/json"}, 422, "invalid_request"),
    (b'{"queue": 12}', {"content-type": "application/json"}, 422, "invalid_request"),
    (b'{"queue": "shomei", "priority": "yes"}', {"content-type": "application/json"}, 422, "invalid_request"),
    (b'{"queue": "shomei"}', {"content-type": "text/plain"}, 415, "unsupported_media_type"),
    (b'{"queue": "' + b"x" * 20000 + b'"}', {"content-type": "application/json"}, 413, "payload_too_large"),
])
async def test_bad_input_gets_the_envelope_and_stores_nothing(
        server: ServerProcess, client: httpx.AsyncClient, body: bytes, headers: dict[str, str], status: int,
        code: str) -> None:
    a = await admin(client)
    before = count_tickets(await staff_state(client, a))
    r = await client.post("/api/tickets", content=body, headers={**bearer(server.kiosk), **headers})
    err = assert_envelope(r, status, code)
    if code == "invalid_request" and body.startswith(b"{"):
        assert err["details"] and all({"field", "problem"} <= set(d) for d in err["details"])
    assert count_tickets(await staff_state(client, a)) == before


async def test_routing_errors_use_the_envelope_and_nothing_leaks(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/api/nothing-here"), 404, "not_found")
    assert_envelope(await client.get("/etc/passwd"), 404, "not_found")
    assert_envelope(await client.delete("/api/state"), 405, "method_not_allowed")
    assert_envelope(await client.get("/api/public/tickets/unknown-token-123"), 404, "not_found")
    r = await client.get("/api/health")
    assert "server" not in r.headers
    assert "version" not in r.text


async def test_sign_in_attempts_are_limited(server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    await clerk(client, a, "clerk-limit")
    for _ in range(5):
        wrong = {"username": "clerk-limit", "password": "wrong"}
        assert_envelope(await client.post("/api/auth/login", json=wrong), 401, "login_failed")
    right = {"username": "clerk-limit", "password": password_of("clerk-limit")}
    err = assert_envelope(await client.post("/api/auth/login", json=right), 429, "rate_limited")
    assert err["retry_after_s"] >= 1


async def test_pairing_a_kiosk_then_revoking_it(server: ServerProcess, client: httpx.AsyncClient) -> None:
    await staff_the_floor(client)
    a = await admin(client)
    r = await client.post("/api/devices", json={"kind": "kiosk", "name": "2F kiosk B"}, headers=a)
    assert r.status_code == 201
    code, device = r.json()["pairing_code"], r.json()["device"]
    paired = await client.post("/api/devices/pair", json={"code": code})
    assert paired.status_code == 200
    token = paired.json()["token"]
    assert_envelope(await client.post("/api/devices/pair", json={"code": code}), 403, "forbidden")   # one use
    assert (await client.post("/api/tickets", json={"queue": "mynumber"}, headers=bearer(token))).status_code == 201
    assert (await client.delete(f"/api/devices/{device['id']}", headers=a)).status_code == 200
    revoked = await client.post("/api/tickets", json={"queue": "mynumber"}, headers=bearer(token))
    assert_envelope(revoked, 401, "unauthenticated")


async def test_passwords_are_stored_as_argon2id(server: ServerProcess) -> None:
    import sqlite3
    db = sqlite3.connect(server.data_dir / "madoguchi.sqlite3")
    hashes = [row[0] for row in db.execute("select password_hash from staff")]
    db.close()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert all(ADMIN_PASSWORD not in h for h in hashes)


async def test_the_openapi_document_is_valid_3_1_and_lists_every_route(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    from openapi_spec_validator import validate

    doc = (await client.get("/api/openapi.json")).json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    for spec in SPECS:
        assert spec.method.lower() in doc["paths"][spec.path], spec.path
    # every registered starlette route under /api is documented
    from server.app import create_app
    from server.settings import Settings
    app = create_app(Settings(data_dir=server.data_dir))
    for r in app.routes:
        path = getattr(r, "path", "")
        if path.startswith("/api/"):
            assert path in doc["paths"], path


async def test_a_clerk_signing_out_with_a_ticket_is_refused(server: ServerProcess, client: httpx.AsyncClient) -> None:
    await staff_the_floor(client)
    a = await admin(client)
    desk = await clerk(client, a, "clerk-out", counter="8")
    issued = (await client.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(server.kiosk))).json()
    await client.post("/api/counters/8/call", json={"ticket": issued["ticket"]}, headers=desk)
    assert_envelope(await client.post("/api/counters/8/sign-out", headers=desk), 409, "counter_busy")
    await client.post("/api/counters/8/no-show", headers=desk)
    assert (await client.post(f"/api/tickets/{issued['ticket']}/reinstate", headers=desk)).json()["status"] == "waiting"
    cancelled = await client.post(f"/api/tickets/{issued['ticket']}/cancel", json={"reason": "left"}, headers=desk)
    assert cancelled.json()["status"] == "cancelled"
    assert (await client.post("/api/counters/8/sign-out", headers=desk)).status_code == 200
    me = (await client.get("/api/auth/me", headers=desk)).json()
    assert me["counter"] is None and me["role"] == "clerk"


async def test_public_status_is_rate_limited_per_address(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path, env={"MADOGUCHI_PUBLIC_RATE": "10/minute"}).start()
    try:
        async with httpx.AsyncClient(base_url=proc.url) as c:
            await staff_the_floor(c)
            issued = (await c.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(proc.kiosk))).json()
            codes = [(await c.get(f"/api/public/tickets/{issued['token']}")).status_code for _ in range(12)]
            assert codes[:10] == [200] * 10
            assert_envelope(await c.get(f"/api/public/tickets/{issued['token']}"), 429, "rate_limited")
            # Staff work is not limited by it.
            a = await admin(c)
            assert (await c.get("/api/staff/state", headers=a)).status_code == 200
    finally:
        proc.stop()


CLOSED_OFFICE = """
[calendar]
national_holidays = false

[calendar.weekdays]
"""


def closed_office_toml(tmp_path: Path) -> Path:
    """The demo office with a calendar that is never open (so the test does not depend on the hour)."""
    from server.config import DEMO_OFFICE

    text = Path(DEMO_OFFICE).read_text(encoding="utf-8")
    path = tmp_path / "closed.toml"
    path.write_text(text[: text.index("[calendar]")] + CLOSED_OFFICE, encoding="utf-8")
    return path


async def kiosk_agrees_with_the_api(c: httpx.AsyncClient, kiosk: dict[str, str], queue: str) -> str | None:
    """What the kiosk's view says of ``queue`` is what the API does: a 201, or the
    refusal whose code is the view's ``closed_reason``. Returns that reason."""
    before = (await c.get("/api/state")).json()
    seen = next(q for q in before["queues"] if q["id"] == queue)
    r = await c.post("/api/tickets", json={"queue": queue}, headers=kiosk)
    after = next(q for q in (await c.get("/api/state")).json()["queues"] if q["id"] == queue)
    if seen["issuing"]:
        assert seen["closed_reason"] is None
        assert r.status_code == 201, r.text
        assert after["waiting"] == seen["waiting"] + 1
        return None
    assert_envelope(r, 409, seen["closed_reason"])
    assert after["waiting"] == seen["waiting"]          # a refused ticket stores nothing
    return str(seen["closed_reason"])


async def test_the_kiosk_view_and_the_api_agree_on_every_reason(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "rehearsal").start()
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as c:
            kiosk = bearer(proc.kiosk)
            # Rehearsal mode, no counter staffed: 準備中 everywhere, never 受付時間外.
            for queue in ("shomei", "koseki", "idou", "inkan", "mynumber"):
                assert await kiosk_agrees_with_the_api(c, kiosk, queue) == "queue_not_ready"
            assert await kiosk_agrees_with_the_api(c, kiosk, "kofu") == "queue_not_issuable"
            a = await admin(c)
            desk = await clerk(c, a, "opener", counter="10")
            for queue in ("idou", "inkan", "mynumber"):
                assert await kiosk_agrees_with_the_api(c, kiosk, queue) is None
            assert await kiosk_agrees_with_the_api(c, kiosk, "shomei") == "queue_not_ready"
            # A paused counter is still staffed: its queues keep issuing.
            assert (await c.post("/api/counters/10/pause", headers=desk)).status_code == 200
            assert await kiosk_agrees_with_the_api(c, kiosk, "idou") is None
            # Staff stop issuing (受付終了): only supervisors, and it is the view's reason too.
            assert_envelope(await c.post("/api/queues/idou/stop-issuing", headers=desk), 403, "forbidden")
            sup = await clerk(c, a, "sup", role="supervisor")
            r = await c.post("/api/queues/idou/stop-issuing", headers=sup)
            assert r.status_code == 200 and r.json()["closed_reason"] == "queue_closed", r.text
            assert await kiosk_agrees_with_the_api(c, kiosk, "idou") == "queue_closed"
            assert await kiosk_agrees_with_the_api(c, kiosk, "inkan") is None
            assert_envelope(await c.post("/api/queues/kofu/stop-issuing", headers=sup), 409, "queue_not_issuable")
            assert_envelope(await c.post("/api/queues/nope/stop-issuing", headers=sup), 404, "unknown_queue")
            r = await c.post("/api/queues/idou/resume-issuing", headers=sup)
            assert r.status_code == 200 and r.json()["issuing"] is True
            assert await kiosk_agrees_with_the_api(c, kiosk, "idou") is None
            assert (await c.post("/api/counters/10/sign-out", headers=desk)).status_code == 200
            assert await kiosk_agrees_with_the_api(c, kiosk, "idou") == "queue_not_ready"
    finally:
        proc.stop()
    # An enforced calendar outside its hours: 受付時間外, even with a counter staffed.
    never_open = str(closed_office_toml(tmp_path))
    closed = ServerProcess(tmp_path / "closed", args=("--config", never_open, "--no-rehearsal")).start()
    try:
        async with httpx.AsyncClient(base_url=closed.url, timeout=30) as c:
            a = await admin(c)
            await clerk(c, a, "opener", counter="4")
            pairing = await c.post("/api/devices", json={"kind": "kiosk", "name": "kiosk"}, headers=a)
            token = (await c.post("/api/devices/pair", json={"code": pairing.json()["pairing_code"]})).json()["token"]
            state = (await c.get("/api/state")).json()
            assert state["open"] is False
            for queue in ("shomei", "idou"):
                assert await kiosk_agrees_with_the_api(c, bearer(token), queue) == "office_closed"
    finally:
        closed.stop()


ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def moments(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every ISO 8601 date-time string inside ``value`` with where it was found."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from moments(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from moments(v, f"{path}[{i}]")
    elif isinstance(value, str) and ISO_MOMENT.match(value):
        yield path, value


async def test_every_moment_the_api_gives_is_tokyo_time_with_its_offset(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    from .wskit import Display

    await staff_the_floor(client)
    a = await admin(client)
    desk = await clerk(client, a, "clerk-times", counter="9")
    display = await Display.open(server.ws_url)
    await display.send({"id": 1, "type": "auth", "token": a["Authorization"].split()[1]})
    await display.send({"id": 2, "type": "subscribe", "topics": ["staff"]})
    bodies: dict[str, Any] = {}
    issued = await client.post("/api/tickets", json={"queue": "koseki"}, headers=bearer(server.kiosk))
    bodies["issued"] = issued.json()
    called = await client.post("/api/counters/9/call", json={"ticket": issued.json()["ticket"]}, headers=desk)
    bodies["call"] = called.json()
    bodies["recall"] = (await client.post("/api/counters/9/recall", headers=desk)).json()
    bodies["state"] = (await client.get("/api/state")).json()
    bodies["staff_state"] = (await client.get("/api/staff/state", headers=a)).json()
    bodies["ticket"] = (await client.get(f"/api/tickets/{issued.json()['ticket']}", headers=desk)).json()
    bodies["public"] = (await client.get(f"/api/public/tickets/{issued.json()['token']}")).json()
    bodies["finish"] = (await client.post("/api/counters/9/finish", json={"handover": False}, headers=desk)).json()
    await display.until(lambda m: m.get("type") == "event" and m["event"]["type"] == "ticket.finished")
    await display.close()
    bodies["ws"] = display.messages
    found = [(where, value) for name, body in bodies.items() for where, value in moments(body, name)]
    assert any(".recent_calls[" in where and where.endswith(".at") for where, _ in found)    # the old +00:00 one
    assert any(where.startswith("ws") for where, _ in found)
    assert any(where.startswith("ticket.steps") for where, _ in found)
    wrong = [(where, value) for where, value in found if not value.endswith("+09:00")]
    assert not wrong, wrong
    assert len(found) > 20


async def test_a_finished_certificate_tells_the_phone_where_it_is_handed_over(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    await staff_the_floor(client)
    a = await admin(client)
    desk = await clerk(client, a, "clerk-ready", counter="3")
    issued = (await client.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(server.kiosk))).json()
    waiting = (await client.get(f"/api/public/tickets/{issued['token']}")).json()
    assert waiting["state"] == "waiting" and waiting["handover"] is False
    assert waiting["place"]["counters"] == list(range(1, 10))          # 戸籍係 1-3 and 証明係 4-9 serve it
    await client.post("/api/counters/3/call", json={"ticket": issued["ticket"]}, headers=desk)
    await client.post("/api/counters/3/finish", json={}, headers=desk)
    state = (await client.get("/api/state")).json()
    assert issued["display"] in state["handover_ready"]                 # the guidance display lists it ...
    public = (await client.get(f"/api/public/tickets/{issued['token']}")).json()
    assert public["state"] == "ready" and public["handover"] is True    # ... and the phone agrees
    assert public["queue_name"]["ja"] == "証明の交付"
    assert public["place"] == {"section": {"ja": "サービスコーナー", "en": "Service Corner"}, "counters": [24, 25]}
    assert "token" not in public and "ticket" not in public


async def test_expected_waits_come_in_whole_minutes_rounded_up(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    await staff_the_floor(client)
    state = (await client.get("/api/state")).json()
    checked = 0
    for q in state["queues"]:
        if q["wait_s"] is None:
            assert q["wait_min"] is None
        else:
            assert q["wait_min"] == math.ceil(q["wait_s"] / 60)
            checked += 1
    assert checked
    issued = (await client.post("/api/tickets", json={"queue": "idou"}, headers=bearer(server.kiosk))).json()
    public = (await client.get(f"/api/public/tickets/{issued['token']}")).json()
    assert issued["wait_min"] == public["wait_min"]
    assert public["wait_min"] is None or public["wait_min"] == math.ceil(public["wait_s"] / 60)


def test_every_operation_has_its_own_name() -> None:
    """OpenAPI operation ids are the handlers' names: unique across modules."""
    names = [s.handler.__name__ for s in SPECS]
    assert sorted({n for n in names if names.count(n) > 1}) == []
