"""Sign-in, sessions, CSRF and passwords on a real server (issue 13, points 6, 7, 8, 15, 17)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import httpx

from .serverkit import ServerProcess, admin, bearer, clerk, login, password_of
from .test_api import assert_envelope, staff_the_floor


def from_address(server: ServerProcess, address: str) -> httpx.AsyncClient:
    """A client whose connections come from ``address`` (any 127.0.0.0/8 address reaches loopback)."""
    return httpx.AsyncClient(base_url=server.url, timeout=60,
                             transport=httpx.AsyncHTTPTransport(local_address=address))


def audit(server: ServerProcess, action: str) -> list[tuple[str, str]]:
    """``(actor, detail)`` of every audit row with ``action``."""
    db = sqlite3.connect(server.data_dir / "madoguchi.sqlite3")
    try:
        return [(r[0], r[1]) for r in db.execute("select actor, detail from audit where action = ?", (action,))]
    finally:
        db.close()


def sign_in_body(username: str, password: str) -> dict[str, str]:
    return {"username": username, "password": password}


# ------------------------------------------------------------------ point 6
async def test_concurrent_wrong_passwords_are_checked_at_most_the_limit(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    await clerk(client, a, "race-target")
    before = len(audit(server, "staff.login_failed"))
    async with from_address(server, "127.0.0.5") as c:
        wrong = sign_in_body("race-target", "wrong password, guessed in parallel")
        answers = await asyncio.gather(*(c.post("/api/auth/login", json=wrong) for _ in range(100)))
    codes = [r.status_code for r in answers]
    assert set(codes) <= {401, 429}, codes
    assert codes.count(401) <= 5 and codes.count(429) >= 95, codes     # login_rate's first tier: 5/minute
    throttled = next(r for r in answers if r.status_code == 429)
    err = assert_envelope(throttled, 429, "rate_limited")
    assert int(throttled.headers["retry-after"]) == err["retry_after_s"] >= 1
    # Failed checks are audited, with the user name and address and never the password.
    rows = audit(server, "staff.login_failed")[before:]
    assert len(rows) == codes.count(401)
    assert all(actor == "race-target" and "127.0.0.5" in detail for actor, detail in rows)
    assert all("guessed" not in detail for _, detail in rows)


async def test_a_stranger_cannot_lock_a_user_out(server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    await clerk(client, a, "lockout-target")
    right = sign_in_body("lockout-target", password_of("lockout-target"))
    async with from_address(server, "127.0.0.6") as stranger:
        for _ in range(5):
            r = await stranger.post("/api/auth/login", json=sign_in_body("lockout-target", "a wrong guess here"))
            assert_envelope(r, 401, "login_failed")
        # The failing place waits, even with the right password ...
        assert_envelope(await stranger.post("/api/auth/login", json=right), 429, "rate_limited")
        # ... and so does the admin account from there, once it has failed there too.
        for _ in range(5):
            await stranger.post("/api/auth/login", json=sign_in_body("admin", "a wrong guess here"))
    # The owner at their own terminal signs in at once; so does the admin.
    async with from_address(server, "127.0.0.7") as owner:
        assert (await owner.post("/api/auth/login", json=right)).status_code == 200
    assert (await admin(client))["Authorization"].startswith("Bearer ")
    # Unknown user names are audited without the name (people type passwords into it).
    async with from_address(server, "127.0.0.8") as c:
        assert_envelope(await c.post("/api/auth/login", json=sign_in_body("my secret pass", "x")), 401, "login_failed")
    assert any(actor == "?" and "127.0.0.8" in detail and "secret" not in detail
               for actor, detail in audit(server, "staff.login_failed"))


async def test_many_failures_from_one_address_hold_back_only_that_address(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    await clerk(client, a, "sprayed")
    async with from_address(server, "127.0.0.9") as sprayer:
        for i in range(30):                                  # login_rate_address: 30/5minutes
            r = await sprayer.post("/api/auth/login", json=sign_in_body(f"nobody-{i}", "password spraying"))
            assert_envelope(r, 401, "login_failed")
        r = await sprayer.post("/api/auth/login", json=sign_in_body("sprayed", password_of("sprayed")))
        assert_envelope(r, 429, "rate_limited")
    async with from_address(server, "127.0.0.10") as elsewhere:
        r = await elsewhere.post("/api/auth/login", json=sign_in_body("sprayed", password_of("sprayed")))
        assert r.status_code == 200, r.text


async def test_failures_from_many_addresses_hold_back_the_failing_places_only(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path, env={"MADOGUCHI_LOGIN_RATE_USER": "10/hour"}).start()
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=60) as c:
            await clerk(c, await admin(c), "distributed")
        right = sign_in_body("distributed", password_of("distributed"))
        for i in range(10):
            async with from_address(proc, f"127.0.1.{i + 1}") as attacker:
                r = await attacker.post("/api/auth/login", json=sign_in_body("distributed", "wrong from afar"))
                assert_envelope(r, 401, "login_failed")
        # The account is over its limit: a place that failed waits, even with the right password ...
        async with from_address(proc, "127.0.1.1") as failed_here:
            assert_envelope(await failed_here.post("/api/auth/login", json=right), 429, "rate_limited")
        # ... a new place gets one attempt at a time, and the owner's right password works.
        async with from_address(proc, "127.0.2.1") as new_place:
            r = await new_place.post("/api/auth/login", json=sign_in_body("distributed", "wrong again"))
            assert_envelope(r, 401, "login_failed")
            assert_envelope(await new_place.post("/api/auth/login", json=right), 429, "rate_limited")
        async with from_address(proc, "127.0.3.1") as owner:
            assert (await owner.post("/api/auth/login", json=right)).status_code == 200
    finally:
        proc.stop()


async def test_sign_out_is_audited(server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    desk = await clerk(client, a, "audited-clerk", counter="11")
    assert (await client.post("/api/auth/logout", headers=desk)).status_code == 200
    assert ("audited-clerk", "at counter 11") in audit(server, "staff.logout")
    assert_envelope(await client.get("/api/staff/state", headers=desk), 401, "unauthenticated")


# ------------------------------------------------------------------ point 17
async def test_staff_created_names_the_admin_who_created_it(server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    admin_id = (await client.get("/api/auth/me", headers=a)).json()["id"]
    await clerk(client, a, "made-by-admin")
    rows = audit(server, "staff.created")
    assert ("system", "admin (admin)") in rows                    # the first admin, made at start
    assert (admin_id, "made-by-admin (clerk)") in rows


# ------------------------------------------------------------------ point 7
async def test_a_clerk_whose_counter_was_closed_cannot_act_there_and_can_move_on(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    await staff_the_floor(client)
    a = await admin(client)
    clerk1 = await clerk(client, a, "stale-1", counter="5")
    sup = await clerk(client, a, "stale-sup", role="supervisor")
    assert (await client.post("/api/counters/5/sign-out", headers=sup)).status_code == 200
    clerk2 = await clerk(client, a, "stale-2", counter="5")
    issued = (await client.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(server.kiosk))).json()
    # clerk1's old binding no longer holds: nothing is done at counter 5 in clerk1's name.
    r = await client.post("/api/counters/5/call", json={"ticket": issued["ticket"]}, headers=clerk1)
    assert_envelope(r, 409, "counter_not_yours")
    assert (await client.get("/api/auth/me", headers=clerk1)).json()["counter"] is None
    for action in ("call-next", "start", "finish", "pause", "sign-out"):
        assert_envelope(await client.post(f"/api/counters/5/{action}", headers=clerk1), 403, "wrong_counter")
    assert_envelope(await client.post(f"/api/tickets/{issued['ticket']}/cancel", json={}, headers=clerk1),
                    403, "wrong_counter")
    # clerk2 works counter 5 as before, and the call is theirs.
    r = await client.post("/api/counters/5/call", json={"ticket": issued["ticket"]}, headers=clerk2)
    assert r.status_code == 200, r.text
    state = (await client.get("/api/staff/state", headers=a)).json()
    assert issued["ticket"] in str(state)
    # clerk1 moves on to another counter.
    assert (await client.post("/api/counters/6/sign-in", headers=clerk1)).status_code == 200
    assert (await client.get("/api/auth/me", headers=clerk1)).json()["counter"] == "6"


async def test_signing_out_of_a_counter_closed_under_you_succeeds(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    desk = await clerk(client, a, "closed-under", counter="12")
    sup = await clerk(client, a, "closing-sup", role="supervisor")
    assert (await client.post("/api/counters/12/sign-out", headers=sup)).status_code == 200
    # A desk action names the stale binding and clears it.
    r = await client.post("/api/tickets/nothing/cancel", json={}, headers=desk)
    assert_envelope(r, 409, "counter_not_yours")
    desk2 = await clerk(client, a, "closed-under-2", counter="13")
    assert (await client.post("/api/counters/13/sign-out", headers=desk2)).status_code == 200
    await client.post("/api/counters/13/sign-in", headers=desk2)
    assert (await client.post("/api/counters/13/sign-out", headers=sup)).status_code == 200
    r = await client.post("/api/counters/13/sign-out", headers=desk2)
    assert r.status_code == 200, r.text
    assert r.json()["counter"]["status"] == "closed"
    assert (await client.get("/api/auth/me", headers=desk2)).json()["counter"] is None
    assert (await client.post("/api/counters/14/sign-in", headers=desk2)).status_code == 200


# ------------------------------------------------------------------ point 8
async def cookie_session(server: ServerProcess, name: str, counter: str | None = None) -> httpx.AsyncClient:
    """A client holding only the session cookie of clerk ``name`` (no bearer header)."""
    c = httpx.AsyncClient(base_url=server.url, timeout=60)
    await login(c, name, password_of(name))
    assert c.cookies.get("madoguchi_token")
    if counter is not None:
        r = await c.post(f"/api/counters/{counter}/sign-in", headers={"Origin": server.url})
        assert r.status_code == 200, r.text
    return c


async def test_cookie_requests_from_another_origin_are_refused(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    await staff_the_floor(client)
    a = await admin(client)
    await clerk(client, a, "csrf-clerk")
    issued = (await client.post("/api/tickets", json={"queue": "idou"}, headers=bearer(server.kiosk))).json()
    evil = {"Origin": "http://evil.example"}
    c = await cookie_session(server, "csrf-clerk")
    try:
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("/api/counters/15/sign-in", {}), ("/api/counters/15/pause", {}), ("/api/counters/15/resume", {}),
            ("/api/counters/15/sign-out", {}), ("/api/auth/logout", {}),
            (f"/api/tickets/{issued['ticket']}/cancel", {"content": b"", "headers": {"content-type": "text/plain"}}),
        ]
        for path, extra in attempts:
            headers = {**evil, **extra.pop("headers", {})}
            assert_envelope(await c.post(path, headers=headers, **extra), 403, "origin_not_allowed")
            # Without Origin, a foreign Referer is refused, and so is neither.
            r = await c.post(path, headers={"Referer": "http://evil.example/page"})
            assert_envelope(r, 403, "origin_not_allowed")
            assert_envelope(await c.post(path), 403, "origin_not_allowed")
        me = (await c.get("/api/auth/me")).json()
        assert me["kind"] == "staff" and me["counter"] is None            # nothing happened
        # An empty text/plain body is refused even from our own origin.
        own = {"Origin": server.url}
        r = await c.post("/api/counters/15/sign-in", headers={**own, "content-type": "text/plain"}, content=b"")
        assert_envelope(r, 415, "unsupported_media_type")
        # From the server's own pages (Origin, or Referer without Origin) it works.
        assert (await c.post("/api/counters/15/sign-in", headers=own)).status_code == 200
        r = await c.post("/api/counters/15/pause", headers={"Referer": f"{server.url}/counter/"})
        assert r.status_code == 200, r.text
        r = await c.post(f"/api/tickets/{issued['ticket']}/cancel", json={"reason": "left"}, headers=own)
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        assert (await c.post("/api/counters/15/resume", headers=own)).status_code == 200
        assert (await c.post("/api/counters/15/sign-out", headers=own)).status_code == 200
        assert (await c.post("/api/auth/logout", headers=own)).status_code == 200
    finally:
        await c.aclose()
    # Bearer clients without cookies or Origin are unaffected.
    r = await client.post("/api/tickets", json={"queue": "idou"}, headers=bearer(server.kiosk))
    assert r.status_code == 201, r.text


async def test_allowed_origins_extend_the_servers_own(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path, env={"MADOGUCHI_ALLOWED_ORIGINS": '["https://madoguchi.example.lg.jp"]'}).start()
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=60) as c:
            await clerk(c, await admin(c), "proxied")
        c = await cookie_session(proc, "proxied")
        try:
            r = await c.post("/api/counters/3/sign-in", headers={"Origin": "https://madoguchi.example.lg.jp"})
            assert r.status_code == 200, r.text
            r = await c.post("/api/counters/3/sign-out", headers={"Origin": "https://other.example.lg.jp"})
            assert_envelope(r, 403, "origin_not_allowed")
        finally:
            await c.aclose()
    finally:
        proc.stop()


# ------------------------------------------------------------------ point 15
async def test_weak_passwords_and_bad_display_names_are_refused(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    refused = {
        " " * 10: "too_short", " " * 16: "common", "a\x00" * 10: "control_character",
        "weak-user is my name here": "context", "the madoguchi floor password": "context",
        "文京区 戸籍住民課 のパスワードです": "context", "password12345678": "guessable", "short one": "too_short",
        "aaaaaaaaaaaaaaaaaaaa": "guessable", "line one\nline two here": "control_character",
    }
    for password, reason in refused.items():
        r = await client.post("/api/staff", json={"username": "weak-user", "password": password, "role": "clerk"},
                              headers=a)
        err = assert_envelope(r, 422, "invalid_request")
        assert err["details"] == [{"field": "password", "problem": reason}], (password, err)
        message = err["message"]                                           # Japanese, then English
        assert not message[0].isascii() and re.search(r"[A-Za-z]{4,}", message), message
    for name in ("名前\u202eevil", "tab\there", "iso\u2066late", "nul\x00"):
        body = {"username": "bidi-user", "password": password_of("bidi-user"), "role": "clerk", "display_name": name}
        err = assert_envelope(await client.post("/api/staff", json=body, headers=a), 422, "invalid_request")
        assert err["details"][0]["field"] == "display_name"
    listed = [s["username"] for s in (await client.get("/api/staff", headers=a)).json()]
    assert "weak-user" not in listed and "bidi-user" not in listed          # nothing stored
    # Setting a password follows the same rules.
    me = (await client.get("/api/auth/me", headers=a)).json()["id"]
    r = await client.put(f"/api/staff/{me}/password", json={"password": "admin admin admin admin"}, headers=a)
    assert_envelope(r, 422, "invalid_request")


async def test_passwords_are_compared_in_nfkc(server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    typed = "ｶﾞﾗｽの かえる ﾊﾟﾝ ２０２６ ポプラ"                 # half- and full-width forms
    body = {"username": "nfkc-user", "password": typed, "role": "clerk", "display_name": "正規化 太郎"}
    assert (await client.post("/api/staff", json=body, headers=a)).status_code == 201, typed
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        await login(client, "nfkc-user", unicodedata.normalize(form, typed))
    # A hash made before normalisation (of the password as typed) still verifies, and is renewed.
    from argon2 import PasswordHasher

    legacy = "ﾚｶﾞｼｰ の 鍵 ｍｏｍｉｊｉ ９８７６"
    db = sqlite3.connect(server.data_dir / "madoguchi.sqlite3")
    with db:
        db.execute("update staff set password_hash = ? where username = 'nfkc-user'", (PasswordHasher().hash(legacy),))
    db.close()
    await login(client, "nfkc-user", legacy)
    await login(client, "nfkc-user", unicodedata.normalize("NFKC", legacy))


def test_a_weak_admin_password_setting_stops_the_server_with_a_message(tmp_path: Path) -> None:
    env = {"MADOGUCHI_ADMIN_PASSWORD": "admin-password", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--data-dir", str(tmp_path), "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "MADOGUCHI_ADMIN_PASSWORD" in done.stderr and "Traceback" not in done.stderr
