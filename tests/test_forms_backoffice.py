"""The back office pulls applications through its own system account (issue 14, point 5; seeds 000 8.9,
002 2.1.2(エ)): an admin registers a back-office system with its scope, it pairs for its own token, pulls
what it has not taken (a page at a time, an opaque cursor), fetches each application with its answers,
form version, JSON Schema and attachments, acknowledges, pulls again and gets nothing; a corrected and
resent application comes back; redelivery re-runs a delivery; another procedure's applications never
appear; staff see delivered/acknowledged in the history; a revoked token is refused. Real server, real
SQLite file, attachments read back."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from .serverkit import ADMIN_PASSWORD, ServerProcess, password_of
from .test_forms_apply import jpeg

DOG = {"name": {"family": "犬山", "given": "太郎", "family_kana": "イヌヤマ", "given_kana": "タロウ"},
       "address": {"postal_code": "1000001", "address": "東京都千代田区千代田1-1", "building": ""},
       "phone": "03-1234-5678", "dog_name": "ポチ", "breed": "柴", "coat": "赤", "dog_sex": "male",
       "vaccinated": False}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("backoffice") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin(http: httpx.Client) -> dict[str, str]:
    r = http.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    return bearer(r.json()["token"])


def error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def paper(http: httpx.Client, a: dict[str, str], slug: str, **answers: Any) -> str:
    """A paper application entered by staff; its reference."""
    r = http.post(f"/api/forms/procedures/{slug}/applications", headers=a,
                  json={"channel": "paper", "answers": {**DOG, **answers}})
    assert r.status_code == 201, r.text
    return str(r.json()["reference"])


def online_with_certificate(http: httpx.Client, photo: bytes) -> dict[str, Any]:
    """A citizen's dog registration with the vaccination certificate attached; the submit answer."""
    draft = http.post("/apply/api/drafts", json={"procedure": "inu-toroku"}).json()
    code = {"X-Draft-Code": draft["code"]}
    up = http.post("/apply/api/draft/files", params={"question": "certificate"}, content=photo,
                   headers={**code, "Content-Type": "application/octet-stream",
                            "X-File-Name": "%E6%B3%A8%E5%B0%84%E6%B8%88%E8%A8%BC.jpg"})
    assert up.status_code == 201, up.text
    answers = {**DOG, "vaccinated": True, "vaccinated_on": "2026-04-10", "certificate": {"id": up.json()["id"]}}
    assert http.put("/apply/api/draft", json={"answers": answers, "page": None}, headers=code).status_code == 200
    r = http.post("/apply/api/draft/submit", json={"version_id": draft["version"]["id"]}, headers=code)
    assert r.status_code == 201, r.text
    return dict(r.json())


def pull(http: httpx.Client, system: dict[str, str], limit: int = 100) -> list[dict[str, Any]]:
    """Every application on the system's feed, page by page (a fresh pull: no cursor at first)."""
    out: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"after": after} if after else {})
        r = http.get("/api/forms/feed", params=params, headers=system)
        assert r.status_code == 200, r.text
        page = r.json()
        out += page["applications"]
        if not page["more"]:
            return out
        after = page["cursor"]


def test_a_back_office_system_pulls_acknowledges_and_redelivers_only_its_procedures(server: ServerProcess) -> None:
    photo = jpeg((320, 240))
    with httpx.Client(base_url=server.url, timeout=30) as http:
        a = admin(http)
        # A second live procedure (a copy of the dog registration), outside the system's scope.
        copy = http.post("/api/forms/procedures/inu-toroku/copy", json={"slug": "inu-kyoto"}, headers=a)
        assert copy.status_code == 201, copy.text
        assert http.post(f"/api/forms/procedures/{copy.json()['id']}/draft/publish", json={"number": 1},
                         headers=a).status_code == 200

        # An admin registers the system with its scope (an unknown procedure is refused, naming it).
        r = http.post("/api/forms/backoffice", json={"name": "犬台帳システム", "procedures": ["inu-toroku", "nope"]},
                      headers=a)
        assert error(r) == (404, "not_found") and r.json()["error"]["details"][0]["message"] == "nope"
        r = http.post("/api/forms/backoffice", json={"name": "犬台帳システム", "procedures": ["inu-toroku"]},
                      headers=a)
        assert r.status_code == 201, r.text
        registered = r.json()
        assert registered["system"]["procedures"] == ["inu-toroku"] and not registered["system"]["paired"]
        # It pairs like any device, for a token of its own (a code is for its kind only).
        code = registered["pairing_code"]
        assert error(http.post("/api/devices/pair", json={"code": code, "kind": "kiosk"})) == (403, "forbidden")
        r = http.post("/api/devices/pair", json={"code": code, "kind": "backoffice"})
        assert r.status_code == 200 and r.json()["device"]["kind"] == "backoffice", r.text
        system = bearer(r.json()["token"])
        device_id = r.json()["device"]["id"]
        assert pull(http, system) == []

        # Applications: three on paper and one online with a file in scope; two of the other procedure.
        mine = [paper(http, a, "inu-toroku", dog_name=f"ポチ{i}") for i in range(3)]
        online = online_with_certificate(http, photo)
        mine.append(online["reference"])
        others = [paper(http, a, "inu-kyoto") for _ in range(2)]

        # Pulled two at a time, in the order sent, only its own.
        r = http.get("/api/forms/feed", params={"limit": 2}, headers=system)
        first = r.json()
        assert [x["reference"] for x in first["applications"]] == mine[:2] and first["more"]
        second = http.get("/api/forms/feed", params={"limit": 2, "after": first["cursor"]}, headers=system).json()
        assert [x["reference"] for x in second["applications"]] == mine[2:] and not second["more"]
        items = first["applications"] + second["applications"]
        assert {(x["procedure"], x["event"], x["state"], x["version"], x["status"]) for x in items} == {
            ("inu-toroku", "submitted", "new", 1, "received")}
        assert [x["channel"] for x in items] == ["paper", "paper", "paper", "online"]
        # The cursor is opaque and stable: the same page again from the same cursor.
        again = http.get("/api/forms/feed", params={"limit": 2, "after": first["cursor"]}, headers=system).json()
        assert again == second
        last = http.get("/api/forms/feed", params={"after": second["cursor"]}, headers=system).json()
        assert last == {"applications": [], "cursor": second["cursor"], "more": False}

        # One application: answers, version, schema id, attachments with their route; the bytes come back.
        detail = http.get(f"/api/forms/feed/{online['reference']}", headers=system).json()
        assert detail["answers"]["dog_name"] == "ポチ" and detail["answers"]["vaccinated"] is True
        assert detail["version"]["number"] == 1 and detail["delivery"]["state"] == "delivered"
        assert detail["version"]["schema_id"].endswith(f"/api/forms/feed/schemas/{detail['version']['id']}")
        [attachment] = detail["attachments"]
        assert (attachment["name"], attachment["type"]) == ("注射済証.jpg", "image/jpeg")
        assert attachment["size"] == len(photo)
        assert attachment["sha256"] == hashlib.sha256(photo).hexdigest()
        got = http.get(attachment["href"], headers=system)
        assert got.status_code == 200 and got.content == photo and got.headers["content-type"] == "image/jpeg"
        schema = http.get(detail["version"]["schema_id"].removeprefix(server.url), headers=system).json()
        assert schema["$id"] == detail["version"]["schema_id"]
        assert list(Draft202012Validator(schema).iter_errors(detail["answers"])) == []
        assert detail["answers"]["certificate"]["id"] == attachment["id"]

        # Acknowledging needs the application fetched first: refused, and nothing acknowledged.
        r = http.post("/api/forms/feed/ack", json={"references": mine}, headers=system)
        assert error(r) == (409, "not_delivered")
        assert {d["message"] for d in r.json()["error"]["details"]} == set(mine[:3])
        assert len(pull(http, system)) == 4
        for ref in mine[:3]:
            assert http.get(f"/api/forms/feed/{ref}", headers=system).status_code == 200
        r = http.post("/api/forms/feed/ack", json={"references": mine}, headers=system)
        assert r.status_code == 200 and r.json()["acknowledged"] == mine, r.text
        assert pull(http, system) == []                                   # pulled again: nothing
        assert http.post("/api/forms/feed/ack", json={"references": mine[:1]}, headers=system).status_code == 200

        # Another procedure's applications do not exist for it.
        for ref in others:
            assert error(http.get(f"/api/forms/feed/{ref}", headers=system)) == (404, "not_found")
            assert error(http.get(f"/api/forms/feed/{ref}/files/{attachment['id']}", headers=system)) == \
                (404, "not_found")
        r = http.post("/api/forms/feed/ack", json={"references": [mine[0], others[0]]}, headers=system)
        assert error(r) == (404, "not_found") and [d["message"] for d in r.json()["error"]["details"]] == [others[0]]
        other_version = http.get("/api/forms/procedures/inu-kyoto", headers=a).json()["versions"][0]["id"]
        assert error(http.get(f"/api/forms/feed/schemas/{other_version}", headers=system)) == (404, "not_found")
        assert error(http.get(f"/api/forms/feed/{online['reference']}/files/nope", headers=system)) == \
            (404, "not_found")

        # Redelivery re-runs a delivery: the one named, then all.
        r = http.post("/api/forms/feed/redeliver", json={"references": [mine[1]]}, headers=system)
        assert r.json() == {"redelivered": [mine[1]]}
        assert [(x["reference"], x["state"]) for x in pull(http, system)] == [(mine[1], "delivered")]
        r = http.post("/api/forms/feed/redeliver", json={"references": "all"}, headers=system)
        assert sorted(r.json()["redelivered"]) == sorted(mine[:1] + mine[2:])
        assert [x["reference"] for x in pull(http, system, limit=3)] == mine
        refused: list[dict[str, Any]] = [{}, {"references": []}, {"references": "some"}, {"all": True}]
        for bad in refused:
            r = http.post("/api/forms/feed/redeliver", json=bad, headers=system)
            assert error(r) == (422, "invalid_request"), bad
        http.post("/api/forms/feed/ack", json={"references": mine}, headers=system).raise_for_status()
        assert pull(http, system) == []
        # An admin can re-run it too, recorded with the admin as the actor.
        r = http.post(f"/api/forms/backoffice/{device_id}/redeliver", json={"references": [mine[0]]}, headers=a)
        assert r.json() == {"redelivered": [mine[0]]}, r.text
        assert [x["reference"] for x in pull(http, system)] == [mine[0]]
        http.post("/api/forms/feed/ack", json={"references": [mine[0]]}, headers=system).raise_for_status()

        # A corrected and resent application comes back, as changed, with its new answers.
        app_id = http.get("/api/forms/applications/" + online["reference"], headers=a).json()["id"]
        r = http.put(f"/api/forms/applications/{app_id}/status", headers=a,
                     json={"status": "returned", "message": "注射日をご確認ください。"})
        assert r.status_code == 200, r.text
        receipt = {"X-Receipt-Token": online["receipt_token"]}
        fix = http.post("/apply/api/receipt/correction", headers=receipt).json()
        answers = {**fix["answers"], "vaccinated_on": "2026-04-11"}
        fixing = {"X-Draft-Code": fix["code"]}
        assert http.put("/apply/api/draft", json={"answers": answers, "page": None}, headers=fixing).status_code == 200
        r = http.post("/apply/api/draft/submit", json={"version_id": fix["version"]["id"]}, headers=fixing)
        assert r.status_code == 201, r.text
        [back] = pull(http, system)
        assert (back["reference"], back["event"], back["state"]) == (online["reference"], "resubmitted", "changed")
        detail = http.get(f"/api/forms/feed/{online['reference']}", headers=system).json()
        assert detail["answers"]["vaccinated_on"] == "2026-04-11" and detail["status"] == "received"
        http.post("/api/forms/feed/ack", json={"references": [online["reference"]]}, headers=system).raise_for_status()
        assert pull(http, system) == []

        # Staff see the deliveries in the application's history, with the system's name.
        history = http.get("/api/forms/applications/" + mine[1], headers=a).json()["history"]
        actions = [(h["action"], h["detail"].get("system")) for h in history]
        assert ("delivered", "犬台帳システム") in actions and ("acknowledged", "犬台帳システム") in actions
        assert ("redelivery", "犬台帳システム") in actions
        assert all(h["actor"] == f"backoffice:{device_id}" for h in history if h["action"] == "acknowledged")
        files = [h for h in http.get("/api/forms/applications/" + online["reference"], headers=a).json()["history"]
                 if h["action"] == "delivered" and h["detail"]["what"].startswith("file")]
        assert files and files[0]["detail"]["what"] == "file 注射済証.jpg"

        # Admins list the systems; widening the scope brings the other procedure's applications.
        listed = http.get("/api/forms/backoffice", headers=a).json()["systems"]
        assert [(s["name"], s["paired"], s["procedures"], s["delivered"], s["acknowledged"]) for s in listed] == [
            ("犬台帳システム", True, ["inu-toroku"], 4, 4)]
        r = http.put(f"/api/forms/backoffice/{device_id}/scope", json={"procedures": ["inu-toroku", "inu-kyoto"]},
                     headers=a)
        assert r.json()["procedures"] == ["inu-kyoto", "inu-toroku"], r.text
        assert [x["reference"] for x in pull(http, system)] == others
        assert error(http.put("/api/forms/backoffice/nope/scope", json={"procedures": []}, headers=a)) == \
            (404, "not_found")

        # What a system account may not do, and who may not use its routes.
        assert error(http.get("/api/forms/applications", headers=system)) == (403, "forbidden")
        assert error(http.post("/api/tickets", json={"queue": "shomei"}, headers=system)) == (403, "forbidden")
        assert error(http.get("/api/forms/feed", headers=a)) == (403, "forbidden")
        assert error(httpx.get(server.url + "/api/forms/feed")) == (401, "unauthenticated")   # no cookie jar
        assert error(http.get("/api/forms/backoffice", headers=system)) == (403, "forbidden")

        # Revoked: its token is refused at once.
        assert http.delete(f"/api/devices/{device_id}", headers=a).status_code == 200
        assert error(http.get("/api/forms/feed", headers=system)) == (401, "unauthenticated")
        assert error(http.get(f"/api/forms/feed/{mine[0]}", headers=system)) == (401, "unauthenticated")

    # The delivery state as stored: one row per application delivered, each acknowledged at what it got.
    db = sqlite3.connect(server.data_dir / "madoguchi.sqlite3")
    try:
        rows = db.execute("select count(*), sum(acked_seq = delivered_seq) from backoffice_deliveries").fetchone()
    finally:
        db.close()
    assert rows == (4, 4)


def test_bad_cursors_and_limits_are_422_and_a_scope_can_be_empty(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        a = admin(http)
        r = http.post("/api/forms/backoffice", json={"name": "空の連携", "procedures": []}, headers=a)
        token = http.post("/api/devices/pair", json={"code": r.json()["pairing_code"]}).json()["token"]
        system = bearer(token)
        paper(http, a, "inu-toroku")
        assert pull(http, system) == []                       # nothing in scope, nothing offered
        assert error(http.get("/api/forms/feed/INU-000000", headers=system)) == (404, "not_found")
        encoded = base64.urlsafe_b64encode(b"feed:12").decode().rstrip("=")
        assert http.get("/api/forms/feed", params={"after": encoded}, headers=system).status_code == 200
        for bad in ("garbage", "12", base64.urlsafe_b64encode(b"feed:0").decode().rstrip("="),
                    base64.urlsafe_b64encode(b"feed:012").decode().rstrip("="),
                    base64.urlsafe_b64encode(b"feed:-3").decode().rstrip("="), encoded + "==", "%%%", "x" * 64):
            r = http.get("/api/forms/feed", params={"after": bad}, headers=system)
            assert error(r) == (422, "bad_cursor"), (bad, r.text)
        for limit in ("0", "501", "ten"):
            r = http.get("/api/forms/feed", params={"limit": limit}, headers=system)
            assert error(r) == (422, "invalid_request"), (limit, r.text)
        assert error(http.get("/api/forms/feed", params={"since": "x"}, headers=system)) == (422, "invalid_request")
        assert error(http.post("/api/forms/feed/ack", json={"references": []}, headers=system)) == \
            (422, "invalid_request")
        # A staff member is not a system: a clerk cannot register one.
        name = "bo-clerk"
        http.post("/api/staff", json={"username": name, "password": password_of(name), "role": "clerk"}, headers=a)
        clerk = bearer(http.post("/api/auth/login", json={"username": name, "password": password_of(name)})
                       .json()["token"])
        assert error(http.post("/api/forms/backoffice", json={"name": "x", "procedures": []}, headers=clerk)) == \
            (403, "forbidden")


def test_the_feed_is_in_the_openapi_document(server: ServerProcess) -> None:
    doc = httpx.get(server.url + "/api/openapi.json").json()
    for path, method in (("/api/forms/feed", "get"), ("/api/forms/feed/{reference}", "get"),
                         ("/api/forms/feed/{reference}/files/{fid}", "get"), ("/api/forms/feed/ack", "post"),
                         ("/api/forms/feed/redeliver", "post"), ("/api/forms/feed/schemas/{version_id}", "get"),
                         ("/api/forms/backoffice", "post"), ("/api/forms/backoffice/{device_id}/scope", "put")):
        op = doc["paths"][path][method]
        assert op["security"] and "Access: " in op["description"], path
    feed = doc["paths"]["/api/forms/feed"]["get"]
    assert {p["name"] for p in feed["parameters"]} == {"after", "limit"}
    assert "422" in feed["responses"] and "401" in feed["responses"]
