"""The HTTP API on a real server: issuing, counter work, who may do what, bad input."""

from __future__ import annotations

import re

import httpx
import pytest

import server.app  # noqa: F401  (registers every route)
from server.api.registry import SPECS
from server.errors import CODES

from .serverkit import ADMIN_PASSWORD, admin, bearer, clerk


def assert_envelope(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert code in CODES and CODES[code] == status
    text = r.text.lower()
    for leak in ("traceback", "/work/", "site-packages", "uvicorn", "starlette", "python", "sqlalchemy"):
        assert leak not in text, leak
    return body["error"]


async def staff_state(client, headers) -> dict:
    r = await client.get("/api/staff/state", headers=headers)
    assert r.status_code == 200
    return r.json()


def count_tickets(state: dict) -> int:
    return sum(len(q["tickets"]) for q in state["queues"])


async def test_a_kiosk_issues_a_ticket_and_a_double_tap_prints_only_one(server, client):
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


async def test_tokens_are_unique_and_random(server, client):
    kiosk = bearer(server.kiosk)
    tokens = set()
    for _ in range(30):
        r = await client.post("/api/tickets", json={"queue": "inkan"}, headers=kiosk)
        assert r.status_code == 201, r.text
        tokens.add(r.json()["token"])
    assert len(tokens) == 30
    assert len({t[:6] for t in tokens}) > 25


async def test_a_certificate_visit_through_the_counter_terminal_api(server, client):
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
    assert [(s["queue"], s["status"], s["counter"]) for s in detail["steps"]] == [("shomei", "done", "4"), ("kofu", "done", "24")]
    assert (await client.get(f"/api/public/tickets/{issued['token']}")).json()["state"] == "done"


async def test_domain_errors_come_back_as_409_and_change_nothing(server, client):
    a = await admin(client)
    desk = await clerk(client, a, "clerk-err", counter="7")
    before = count_tickets(await staff_state(client, desk))
    assert_envelope(await client.post("/api/counters/7/recall", headers=desk), 409, "counter_idle")
    assert_envelope(await client.post("/api/counters/7/finish", headers=desk), 409, "counter_idle")
    assert_envelope(await client.post("/api/tickets/nope/reinstate", headers=desk), 404, "unknown_ticket")
    assert_envelope(await client.post("/api/tickets", json={"queue": "kofu"}, headers=desk), 409, "queue_not_issuable")
    assert_envelope(await client.post("/api/tickets", json={"queue": "nope"}, headers=desk), 404, "unknown_queue")
    assert count_tickets(await staff_state(client, desk)) == before


async def test_who_may_do_what(server, client):
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
    assert_envelope(await client.post("/api/staff", json={"username": "x", "password": "0123456789a", "role": "admin"}, headers=desk), 403, "forbidden")
    # A supervisor may act at any counter.
    sup = await clerk(client, a, "supervisor-1", role="supervisor")
    assert (await client.post("/api/counters/6/sign-in", headers=sup)).status_code == 200
    assert (await client.post("/api/counters/6/sign-out", headers=sup)).status_code == 200
    # Anonymous can change nothing, and a revoked or made-up token is anonymous.
    assert_envelope(await client.post("/api/tickets", json={"queue": "shomei"}, headers=bearer("made-up-token")), 401, "unauthenticated")


async def test_anonymous_gets_401_on_every_non_public_route(server, client):
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
async def test_bad_input_gets_the_envelope_and_stores_nothing(server, client, body, headers, status, code):
    a = await admin(client)
    before = count_tickets(await staff_state(client, a))
    r = await client.post("/api/tickets", content=body, headers={**bearer(server.kiosk), **headers})
    err = assert_envelope(r, status, code)
    if code == "invalid_request" and body.startswith(b"{"):
        assert err["details"] and all({"field", "problem"} <= set(d) for d in err["details"])
    assert count_tickets(await staff_state(client, a)) == before


async def test_routing_errors_use_the_envelope_and_nothing_leaks(server, client):
    assert_envelope(await client.get("/api/nothing-here"), 404, "not_found")
    assert_envelope(await client.get("/etc/passwd"), 404, "not_found")
    assert_envelope(await client.delete("/api/state"), 405, "method_not_allowed")
    assert_envelope(await client.get("/api/public/tickets/unknown-token-123"), 404, "not_found")
    r = await client.get("/api/health")
    assert "server" not in r.headers
    assert "version" not in r.text


async def test_sign_in_attempts_are_limited(server, client):
    a = await admin(client)
    await clerk(client, a, "clerk-limit")
    for _ in range(5):
        assert_envelope(await client.post("/api/auth/login", json={"username": "clerk-limit", "password": "wrong"}), 401, "login_failed")
    r = await client.post("/api/auth/login", json={"username": "clerk-limit", "password": "pw-clerk-limit-0123456789"})
    assert_envelope(r, 429, "rate_limited")


async def test_pairing_a_kiosk_then_revoking_it(server, client):
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
    assert_envelope(await client.post("/api/tickets", json={"queue": "mynumber"}, headers=bearer(token)), 401, "unauthenticated")


async def test_passwords_are_stored_as_argon2id(server):
    import sqlite3
    db = sqlite3.connect(server.data_dir / "madoguchi.sqlite3")
    hashes = [row[0] for row in db.execute("select password_hash from staff")]
    db.close()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert all(ADMIN_PASSWORD not in h for h in hashes)


async def test_the_openapi_document_is_valid_3_1_and_lists_every_route(server, client):
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
        if getattr(r, "path", "").startswith("/api/"):
            assert r.path in doc["paths"], r.path


async def test_a_clerk_signing_out_with_a_ticket_is_refused(server, client):
    a = await admin(client)
    desk = await clerk(client, a, "clerk-out", counter="8")
    issued = (await client.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(server.kiosk))).json()
    await client.post("/api/counters/8/call", json={"ticket": issued["ticket"]}, headers=desk)
    assert_envelope(await client.post("/api/counters/8/sign-out", headers=desk), 409, "counter_busy")
    await client.post("/api/counters/8/no-show", headers=desk)
    assert (await client.post(f"/api/tickets/{issued['ticket']}/reinstate", headers=desk)).json()["status"] == "waiting"
    assert (await client.post(f"/api/tickets/{issued['ticket']}/cancel", json={"reason": "left"}, headers=desk)).json()["status"] == "cancelled"
    assert (await client.post("/api/counters/8/sign-out", headers=desk)).status_code == 200
    me = (await client.get("/api/auth/me", headers=desk)).json()
    assert me["counter"] is None and me["role"] == "clerk"


async def test_public_status_is_rate_limited_per_address(tmp_path):
    from .serverkit import ServerProcess
    proc = ServerProcess(tmp_path, env={"MADOGUCHI_PUBLIC_RATE": "10/minute"}).start()
    try:
        async with httpx.AsyncClient(base_url=proc.url) as c:
            issued = (await c.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(proc.kiosk))).json()
            codes = [(await c.get(f"/api/public/tickets/{issued['token']}")).status_code for _ in range(12)]
            assert codes[:10] == [200] * 10
            assert_envelope(await c.get(f"/api/public/tickets/{issued['token']}"), 429, "rate_limited")
            # Staff work is not limited by it.
            a = await admin(c)
            assert (await c.get("/api/staff/state", headers=a)).status_code == 200
    finally:
        proc.stop()
