"""A citizen applies from home through the real server: find the procedure, fill it
page by page with a condition and a file, save and resume with the code, check the
answers, send once (a double tap makes one application), read the receipt.
Bad input at every step gets a clear 4xx and stores nothing partial."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from .serverkit import ServerProcess
from .test_forms_receipt import pages_text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("apply") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def rows(server: ServerProcess, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(server.data_dir / "madoguchi.sqlite3")
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


APPLICANT = {
    "name": {"family": "山田", "given": "花子", "family_kana": "やまだ", "given_kana": "ﾊﾅｺ"},
    "birth_date": "1989-01-08",
    "address": {"postal_code": "100-0001", "address": "東京都千代田区千代田1-1", "building": ""},
    "phone": "090-1234-5678",
}


def code_of(draft: dict[str, Any]) -> dict[str, str]:
    return {"X-Draft-Code": draft["code"]}


def test_a_citizen_finds_fills_saves_resumes_and_sends_a_request_once(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        found = http.get("/apply/api/procedures", params={"q": "じゅうみんひょう"}).json()
        assert [p["slug"] for p in found["procedures"]] == ["juminhyo-by-post"]
        assert {e["id"] for e in found["life_events"]} >= {"moving", "birth", "death"}
        moving = http.get("/apply/api/procedures", params={"life_event": "moving"}).json()["procedures"]
        assert "juminhyo-by-post" in [p["slug"] for p in moving] and "jido-teate" in [p["slug"] for p in moving]

        draft = http.post("/apply/api/drafts", json={"procedure": "juminhyo-by-post"}).json()
        assert draft["version"]["number"] == 1 and draft["page"] is None
        headers = code_of(draft)
        # Page 1 with a mistake: 422, each field named, and what was typed is kept.
        bad = {**APPLICANT, "phone": "12345"}
        r = http.put("/apply/api/draft", json={"answers": bad, "page": "applicant"}, headers=headers)
        assert r.status_code == 422 and r.json()["error"]["code"] == "answers_invalid"
        assert [(d["field"], d["problem"]) for d in r.json()["error"]["details"]] == [("phone", "bad_phone")]
        assert http.get("/apply/api/draft", headers=headers).json()["answers"]["phone"] == "12345"
        r = http.put("/apply/api/draft", json={"answers": APPLICANT, "page": "applicant"}, headers=headers)
        assert r.status_code == 200 and r.json()["next"] == "relation"
        answers = {**APPLICANT, "relation": "self"}
        r = http.put("/apply/api/draft", json={"answers": answers, "page": "relation"}, headers=headers)
        assert r.json()["next"] == "certificate"                       # the route skips the letter of attorney
        answers |= {"kind": "copy", "scope": "household", "items": ["relationship"], "copies": "1",
                    "purpose": "勤務先に提出"}
        r = http.put("/apply/api/draft", json={"answers": answers, "page": "certificate"}, headers=headers)
        assert r.json()["next"] == "identity"

    # The citizen closes the browser; later, on another device, resumes with the code they were shown.
    with httpx.Client(base_url=server.url, timeout=30) as http:
        typed = {"X-Draft-Code": draft["code"].lower().replace("-", " ")}
        resumed = http.get("/apply/api/draft", headers=typed).json()
        assert resumed["page"] == "certificate" and resumed["answers"]["copies"] == "1"
        photo = jpeg()
        r = http.post("/apply/api/draft/files", params={"question": "id_copy"}, content=photo,
                      headers={**typed, "Content-Type": "application/octet-stream",
                               "X-File-Name": "%E5%85%8D%E8%A8%B1%E8%A8%BC.jpg"})
        assert r.status_code == 201, r.text
        uploaded = r.json()
        assert uploaded["type"] == "image/jpeg" and uploaded["name"] == "免許証.jpg" and uploaded["size"] == len(photo)
        answers |= {"id_copy": {"id": uploaded["id"]}}
        r = http.put("/apply/api/draft", json={"answers": answers, "page": "identity"}, headers=typed)
        assert r.json()["next"] is None                                  # on to check your answers
        review = http.get("/apply/api/draft/review", headers=typed).json()
        assert review["ready"] and review["errors"] == []
        shown = {row["path"]: row for row in review["rows"]}
        assert shown["name"]["value"] == "山田　花子（ヤマダ　ハナコ）" and shown["name"]["page_id"] == "applicant"
        assert shown["birth_date"]["value"] == "平成元年1月8日（1989-01-08）"
        # Send: a double tap is one application.
        first = http.post("/apply/api/draft/submit", json={"version_id": review["version_id"]}, headers=typed)
        again = http.post("/apply/api/draft/submit", json={"version_id": review["version_id"]}, headers=typed)
        assert first.status_code == 201 and again.status_code == 200, (first.text, again.text)
        assert first.json()["reference"] == again.json()["reference"] and again.json()["replayed"]
        assert first.json()["reference"].startswith("JM-")
        assert rows(server, "select count(*) from applications where reference = ?", first.json()["reference"]) \
            == [(1,)]
        # The earlier receipt link stopped working when the replay gave a fresh one.
        assert http.get("/apply/api/receipt", headers={"X-Receipt-Token": first.json()["receipt_token"]}).status_code \
            == 404
        receipt = http.get("/apply/api/receipt", headers={"X-Receipt-Token": again.json()["receipt_token"]}).json()
        assert receipt["status"] == "received" and receipt["status_label"] == ["受付", "Received"]
        assert receipt["can_withdraw"] and not receipt["can_correct"]
        assert {r["path"] for r in receipt["rows"]} >= {"name", "id_copy", "copies"}
        # The receipt PDF, read back: the reference, the procedure and the answers, in Japanese.
        pdf = http.get("/apply/api/receipt.pdf", headers={"X-Receipt-Token": again.json()["receipt_token"]})
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        text = "".join(pages_text(pdf.content))
        for expected in (first.json()["reference"], "住民票の写し等の郵送請求", "山田　花子", "平成元年1月8日",
                         "免許証.jpg"):
            assert expected in text, expected
        again_pdf = http.get("/apply/api/receipt.pdf", headers={"X-Receipt-Token": again.json()["receipt_token"]})
        assert again_pdf.content == pdf.content
        # The draft is gone; its code now only finds the application.
        assert http.get("/apply/api/draft", headers=typed).status_code == 404
    stored = rows(server, "select answers, channel, status from applications where reference = ?",
                  first.json()["reference"])
    assert '"family_kana":"ヤマダ"' in stored[0][0] and stored[0][1:] == ("online", "received")
    kept = rows(server, "select owner, media_type, size from attachments where id = ?", uploaded["id"])
    app_id = rows(server, "select id from applications where reference = ?", first.json()["reference"])[0][0]
    assert kept == [(app_id, "image/jpeg", len(photo))]
    files = list((server.data_dir / "attachments").rglob(uploaded["id"]))
    assert [f.read_bytes() for f in files] == [photo]


def test_files_are_judged_by_their_bytes_and_their_size(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        draft = http.post("/apply/api/drafts", json={"procedure": "juminhyo-by-post"}).json()
        headers = {**code_of(draft), "Content-Type": "application/octet-stream", "X-File-Name": "photo.jpg"}

        def send(data: bytes, question: str = "id_copy") -> httpx.Response:
            return http.post("/apply/api/draft/files", params={"question": question}, content=data, headers=headers)

        disguised = send(b"MZ\x90\x00 this is a program, renamed photo.jpg" * 10)
        assert disguised.status_code == 415 and disguised.json()["error"]["code"] == "file_type"
        truncated = send(jpeg()[:200])
        assert truncated.status_code == 422 and truncated.json()["error"]["code"] == "bad_file"
        big = send(jpeg() + b"\0" * (5 * 1024 * 1024))
        assert big.status_code == 413 and big.json()["error"]["code"] == "file_too_large"
        assert send(jpeg(), question="phone").json()["error"]["code"] == "answers_invalid"
        assert send(b"").json()["error"]["code"] == "bad_file"
        # One draft holds at most 20 files: nobody fills the disk without signing in.
        for _ in range(20):
            assert send(jpeg((8, 8))).status_code == 201
        refused = send(jpeg((8, 8)))
        assert refused.status_code == 413 and "20" in refused.json()["error"]["message"]
        assert http.post("/apply/api/draft/files", params={"question": "id_copy"}, content=jpeg(),
                         headers={**headers, "X-Draft-Code": "NOPE-NOPE-NOPE-NOPE"}).status_code == 404
    assert rows(server, "select count(*) from attachments where owner = (select id from form_drafts "
                        "order by created_at_us desc limit 1)") == [(20,)]


def test_bad_requests_store_nothing(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        before = rows(server, "select count(*) from applications")
        assert http.post("/apply/api/drafts", json={"procedure": "no-such"}).status_code == 404
        draft = http.post("/apply/api/drafts", json={"procedure": "koseki-by-post"}).json()
        headers = code_of(draft)
        version = draft["version"]["id"]
        # Sending before the required answers are there: 422 with each missing field.
        r = http.post("/apply/api/draft/submit", json={"version_id": version}, headers=headers)
        assert r.status_code == 422 and {d["field"] for d in r.json()["error"]["details"]} >= {"name", "honseki"}
        # A forged version, an unknown page, an unknown question, a wrong shape.
        assert http.post("/apply/api/draft/submit", json={"version_id": "0" * 32},
                         headers=headers).json()["error"]["code"] == "form_version_stale"
        r = http.put("/apply/api/draft", json={"answers": {}, "page": "nowhere"}, headers=headers)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["problem"] == "unknown_page"
        r = http.put("/apply/api/draft", json={"answers": {"is_admin": True}, "page": "applicant"}, headers=headers)
        assert ("is_admin", "unknown_question") in [(d["field"], d["problem"]) for d in r.json()["error"]["details"]]
        r = http.put("/apply/api/draft", json={"answers": "everything", "page": "applicant"}, headers=headers)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
        # A page whose answers hide a required question: the question is not asked, nothing is required of it.
        answers = {"name": APPLICANT["name"], "address": APPLICANT["address"], "phone": "03-1234-5678",
                   "honseki": "東京都千代田区千代田1番", "head": {"family": "山田", "given": "一郎"},
                   "certificates": ["tohon"], "copies": 1, "purpose": "passport", "purpose_other": ""}
        r = http.put("/apply/api/draft", json={"answers": answers, "page": "register"}, headers=headers)
        assert r.status_code == 200 and r.json()["next"] == "identity"
        # Answers forged past the page checks (never through the pages) are still checked at the end.
        answers["copies"] = 99
        http.put("/apply/api/draft", json={"answers": answers, "page": None}, headers=headers)
        r = http.post("/apply/api/draft/submit", json={"version_id": version}, headers=headers)
        assert ("copies", "too_large") in [(d["field"], d["problem"]) for d in r.json()["error"]["details"]]
        assert rows(server, "select count(*) from applications") == before
        # Without a code: 401; with a made-up one: one message, whatever the reason.
        assert http.get("/apply/api/draft").json()["error"]["code"] == "unauthenticated"
        assert http.get("/apply/api/draft", headers={"X-Draft-Code": "A" * 19}).status_code == 404
        # An exit page ends the form: no application.
        gomi = http.post("/apply/api/drafts", json={"procedure": "sodai-gomi"}).json()
        r = http.put("/apply/api/draft", json={"answers": {"appliances": True}, "page": "kaden"},
                     headers=code_of(gomi))
        assert r.json()["next"] == "appliance_notice" and r.json()["exit"] == "appliance_notice"
        r = http.post("/apply/api/draft/submit", json={"version_id": gomi["version"]["id"]}, headers=code_of(gomi))
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_eligible"


def test_the_postal_code_gives_the_address_from_kept_data(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        found = http.get("/apply/api/postal-codes/1000001").json()
        assert [a["address"] for a in found["addresses"]] == ["東京都千代田区千代田"]
        assert http.get("/apply/api/postal-codes/12-34").status_code == 422
        assert http.get("/apply/api/postal-codes/0000000").json()["addresses"] == []


def test_no_page_or_route_of_the_citizens_side_needs_or_shows_staff_data() -> None:
    import importlib

    importlib.import_module("server.app")  # registers every route
    from server.api.registry import SPECS

    citizen = [s for s in SPECS if s.path.startswith("/apply/")]
    assert citizen and all(s.access == "public" for s in citizen)
    assert not [s for s in SPECS if s.path.startswith("/apply/") != (s.tag == "apply")]
    root = Path(__file__).resolve().parents[1]
    source = (root / "online_forms" / "citizen_api.py").read_text(encoding="utf-8")
    for staff_only in ("assignee", "note(", "viewed(", "set_status(", "section_staff"):
        assert staff_only not in source, staff_only


def test_one_address_cannot_flood_the_citizens_api_and_abandoned_drafts_are_purged(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "data", env={"MADOGUCHI_APPLY_RATE": "20/minute",
                                                 "MADOGUCHI_APPLY_START_RATE": "2/hour",
                                                 "MADOGUCHI_APPLY_DRAFT_TTL_S": "60"}).start()
    try:
        with httpx.Client(base_url=proc.url, timeout=30) as http, \
                httpx.Client(base_url=proc.url, timeout=30,
                             transport=httpx.HTTPTransport(local_address="127.0.0.7")) as other:
            draft = http.post("/apply/api/drafts", json={"procedure": "koseki-by-post"}).json()
            headers = {"X-Draft-Code": draft["code"], "Content-Type": "application/octet-stream"}
            assert http.post("/apply/api/draft/files", params={"question": "id_copy"}, content=jpeg(),
                             headers=headers).status_code == 201
            assert http.post("/apply/api/drafts", json={"procedure": "koseki-by-post"}).status_code == 201
            third = http.post("/apply/api/drafts", json={"procedure": "koseki-by-post"})
            assert third.status_code == 429 and third.json()["error"]["code"] == "rate_limited"
            answers = [http.get("/apply/api/procedures").status_code for _ in range(25)]
            assert answers.count(429) >= 5 and answers[:12] == [200] * 12
            r = http.get("/apply/api/procedures")
            assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) > 0
            assert other.get("/apply/api/procedures").status_code == 200       # another address is not held up
            assert http.get("/api/health").status_code == 200                  # nor the floor
    finally:
        proc.stop()
    files = list((tmp_path / "data" / "attachments").rglob("*"))
    assert [f for f in files if f.is_file()]
    # A day later the draft has expired: the server deletes it and its file when it starts (and hourly).
    offset = tmp_path / "offset"
    offset.write_text("86400")
    proc = ServerProcess(tmp_path / "data", env={"MADOGUCHI_CLOCK_OFFSET_FILE": str(offset)}).start()
    try:
        import time as _time

        for _ in range(50):
            if not [f for f in (tmp_path / "data" / "attachments").rglob("*") if f.is_file()]:
                break
            _time.sleep(0.1)
    finally:
        proc.stop()
    assert not [f for f in (tmp_path / "data" / "attachments").rglob("*") if f.is_file()]
    assert rows_of(tmp_path / "data", "select count(*) from form_drafts") == [(0,)]
    assert rows_of(tmp_path / "data", "select count(*) from attachments") == [(0,)]


def rows_of(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(data_dir / "madoguchi.sqlite3")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()
