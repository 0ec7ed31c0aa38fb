"""Staff build and publish forms (a clerk drafts, a supervisor approves), and process
applications: returned for correction and resubmitted, completed, entered from paper,
exported as CSV. Through the real server and a real SQLite file."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .serverkit import ServerProcess, password_of
from .test_forms_apply import jpeg

JUMIN = "市民課 住民記録係"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("forms-staff") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


def staff(http: httpx.Client, a: dict[str, str], name: str, role: str, sections: list[str]) -> dict[str, str]:
    r = http.post("/api/staff", headers=a, json={"username": name, "password": password_of(name), "role": role})
    assert r.status_code == 201, r.text
    r = http.put(f"/api/forms/sections/{r.json()['id']}", headers=a, json={"sections": sections})
    assert r.status_code == 200, r.text
    token = http.post("/api/auth/login", json={"username": name, "password": password_of(name)}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def admin_headers(http: httpx.Client) -> dict[str, str]:
    from .serverkit import ADMIN_PASSWORD

    token = http.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def apply(http: httpx.Client, slug: str, answers: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A citizen's application made through the citizens' API; returns the submit answer and the draft headers."""
    draft = http.post("/apply/api/drafts", json={"procedure": slug}).json()
    headers = {"X-Draft-Code": draft["code"]}
    photo = http.post("/apply/api/draft/files", params={"question": "id_copy"}, content=jpeg(),
                      headers={**headers, "Content-Type": "application/octet-stream"}).json()
    answers = {"id_copy": {"id": photo["id"]}, **answers}
    assert http.put("/apply/api/draft", json={"answers": answers, "page": None}, headers=headers).status_code == 200
    r = http.post("/apply/api/draft/submit", json={"version_id": draft["version"]["id"]}, headers=headers)
    return r.json() | {"status_code": r.status_code}, headers


def koseki_answers(**extra: Any) -> dict[str, Any]:
    return {"name": {"family": "佐藤", "given": "一郎", "family_kana": "サトウ", "given_kana": "イチロウ"},
            "address": {"postal_code": "1000001", "address": "東京都千代田区千代田1-1", "building": ""},
            "phone": "03-1234-5678", "honseki": "東京都千代田区千代田1番", "head": {"family": "佐藤", "given": "一郎"},
            "certificates": ["tohon"], "copies": 1, "purpose": "passport", **extra}


def jumin_answers() -> dict[str, Any]:
    return {"name": {"family": "山田", "given": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ"},
            "birth_date": "1989-01-08", "address": {"postal_code": "", "address": "東京都千代田区1-1", "building": ""},
            "phone": "090-1234-5678", "relation": "self", "kind": "copy", "scope": "household", "copies": 1,
            "purpose": "提出"}


def test_a_clerk_drafts_a_supervisor_publishes_and_a_citizen_mid_form_is_told(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        a = admin_headers(http)
        clerk = staff(http, a, "mado-clerk", "clerk", [JUMIN])
        other = staff(http, a, "gomi-clerk", "clerk", ["環境課 清掃係"])
        boss = staff(http, a, "mado-boss", "supervisor", [JUMIN])
        catalogue = http.get("/api/forms/procedures", headers=clerk).json()
        jumin = next(p for p in catalogue["procedures"] if p["slug"] == "juminhyo-by-post")
        assert jumin["editable"] and jumin["published"] == 1 and not catalogue["may_publish"]
        assert not next(p for p in catalogue["procedures"] if p["slug"] == "sodai-gomi")["editable"]
        v1 = http.get(f"/api/forms/procedures/{jumin['id']}/versions/1", headers=clerk).json()

        # A citizen starts on version 1 and gets as far as the last page.
        draft = http.post("/apply/api/drafts", json={"procedure": "juminhyo-by-post"}).json()
        citizen = {"X-Draft-Code": draft["code"]}
        photo = http.post("/apply/api/draft/files", params={"question": "id_copy"}, content=jpeg(),
                          headers={**citizen, "Content-Type": "application/octet-stream"}).json()
        http.put("/apply/api/draft", json={"answers": {**jumin_answers(), "id_copy": {"id": photo["id"]}},
                                           "page": None}, headers=citizen)

        # The clerk adds a question and asks for publication; the clerk cannot publish, another section cannot edit.
        form = v1["form"]
        form["pages"][3]["questions"].append({"id": "note", "type": "long_text", "label": {"ja": "備考", "en": "Notes"},
                                              "required": False})
        r = http.put(f"/api/forms/procedures/{jumin['id']}/draft", json={"form": form}, headers=clerk)
        assert r.status_code == 200 and r.json()["number"] == 2 and r.json()["state"] == "draft", r.text
        assert http.put(f"/api/forms/procedures/{jumin['id']}/draft", json={"form": form},
                        headers=other).status_code == 403
        assert http.post(f"/api/forms/procedures/{jumin['id']}/draft/request", headers=clerk).json()["state"] \
            == "pending"
        assert http.post(f"/api/forms/procedures/{jumin['id']}/draft/publish", json={"number": 2},
                         headers=clerk).status_code == 403
        v2 = http.get(f"/api/forms/procedures/{jumin['id']}/versions/2", headers=clerk).json()
        assert v2["compared_with"] == 1
        assert [(c["kind"], c["id"]) for c in v2["changes"]] == [("added", "note")]
        # A broken draft is refused with every problem, and the pending one is kept.
        broken = {**form, "pages": [{**form["pages"][0], "routes": [{"when": True, "goto": "applicant"}]}]}
        r = http.put(f"/api/forms/procedures/{jumin['id']}/draft", json={"form": broken}, headers=clerk)
        assert r.status_code == 422 and r.json()["error"]["code"] == "form_invalid"
        assert "not a later page" in r.json()["error"]["details"][0]["problem"]
        r = http.post(f"/api/forms/procedures/{jumin['id']}/draft/publish", json={"number": 2}, headers=boss)
        assert r.status_code == 200 and r.json()["number"] == 2 and r.json()["state"] == "published"

        # The citizen, checked on version 1, sends: told the form changed; answers kept; sends again on version 2.
        r = http.post("/apply/api/draft/submit", json={"version_id": draft["version"]["id"]}, headers=citizen)
        assert r.status_code == 409 and r.json()["error"]["code"] == "form_version_stale"
        resumed = http.get("/apply/api/draft", headers=citizen).json()
        assert resumed["version"]["number"] == 2 and resumed["answers"]["purpose"] == "提出"
        r = http.post("/apply/api/draft/submit", json={"version_id": resumed["version"]["id"]}, headers=citizen)
        assert r.status_code == 201, r.text
        detail = http.get("/api/forms/applications/" + r.json()["reference"], headers=clerk).json()
        assert detail["version"] == 2

        # Restoring version 1 makes it the next draft (version 3); the published one stays.
        r = http.post(f"/api/forms/procedures/{jumin['id']}/versions/1/restore", headers=clerk)
        assert r.json()["number"] == 3 and r.json()["state"] == "draft"
        v3 = http.get(f"/api/forms/procedures/{jumin['id']}/versions/3", headers=clerk).json()
        assert [(c["kind"], c["id"]) for c in v3["changes"]] == [("removed", "note")]
        assert http.get("/apply/api/procedures/juminhyo-by-post").json()["version"]["number"] == 2


def test_a_returned_application_is_corrected_by_the_citizen_and_the_history_keeps_both(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        a = admin_headers(http)
        clerk = staff(http, a, "koseki-clerk", "clerk", ["市民課 戸籍係"])
        sent, _ = apply(http, "koseki-by-post", koseki_answers())
        assert sent["status_code"] == 201, sent
        receipt = {"X-Receipt-Token": sent["receipt_token"]}
        found = http.get("/api/forms/applications", params={"procedure": "koseki-by-post", "status": "received"},
                         headers=clerk).json()["applications"]
        app = next(x for x in found if x["reference"] == sent["reference"])
        aid = app["id"]
        r = http.put(f"/api/forms/applications/{aid}/status", json={"status": "returned"}, headers=clerk)
        assert r.status_code == 422 and r.json()["error"]["code"] == "message_required"
        r = http.put(f"/api/forms/applications/{aid}/status",
                     json={"status": "returned", "message": "本籍の番地まで書いてください。"}, headers=clerk)
        assert r.json()["status"] == "returned"
        seen = http.get("/apply/api/receipt", headers=receipt).json()
        assert seen["status"] == "returned" and seen["return_message"] == "本籍の番地まで書いてください。"
        assert seen["can_correct"]
        fix = http.post("/apply/api/receipt/correction", headers=receipt).json()
        assert fix["correcting"] and fix["answers"]["honseki"] == "東京都千代田区千代田1番"
        corrected = {**fix["answers"], "honseki": "東京都千代田区千代田1番地"}
        headers = {"X-Draft-Code": fix["code"]}
        http.put("/apply/api/draft", json={"answers": corrected, "page": None}, headers=headers)
        r = http.post("/apply/api/draft/submit", json={"version_id": fix["version"]["id"]}, headers=headers)
        assert r.status_code == 201 and r.json()["reference"] == sent["reference"] and r.json()["status"] == "received"
        detail = http.get(f"/api/forms/applications/{aid}", headers=clerk).json()
        assert detail["answers"]["honseki"] == "東京都千代田区千代田1番地"
        actions = [h["action"] for h in detail["history"]]
        assert actions[:4] == ["submitted", "viewed", "status", "resubmitted"] or "resubmitted" in actions
        resubmitted = next(h for h in detail["history"] if h["action"] == "resubmitted")
        assert resubmitted["detail"]["previous_answers"]["honseki"] == "東京都千代田区千代田1番"
        # Work on it, finish it; a finished application changes no more.
        http.put(f"/api/forms/applications/{aid}/assignee", json={"staff": "koseki-clerk"}, headers=clerk)
        assert http.post(f"/api/forms/applications/{aid}/notes", json={"text": "電話で確認済み"},
                         headers=clerk).status_code == 201
        assert http.put(f"/api/forms/applications/{aid}/status", json={"status": "in_progress"},
                        headers=clerk).json()["status"] == "in_progress"
        assert http.put(f"/api/forms/applications/{aid}/status", json={"status": "completed"},
                        headers=clerk).json()["status"] == "completed"
        r = http.put(f"/api/forms/applications/{aid}/status", json={"status": "in_progress"}, headers=clerk)
        assert r.status_code == 409 and r.json()["error"]["code"] == "application_closed"
        assert http.post("/apply/api/receipt/withdraw", headers=receipt).json()["error"]["code"] == "application_closed"
        # The citizen's receipt never shows internal notes or who handled it.
        assert "電話で確認済み" not in http.get("/apply/api/receipt", headers=receipt).text
        assert "koseki-clerk" not in http.get("/apply/api/receipt", headers=receipt).text
        # Another section's clerk does not see it at all.
        gomi = staff(http, a, "gomi-2", "clerk", ["環境課 清掃係"])
        assert http.get(f"/api/forms/applications/{aid}", headers=gomi).status_code == 404
        # Every view is in the history, with who.
        views = [h for h in http.get(f"/api/forms/applications/{aid}", headers=clerk).json()["history"]
                 if h["action"] == "viewed"]
        assert len(views) >= 2 and all(h["actor"] for h in views)


def test_paper_applications_bulk_changes_and_the_csv_export(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        a = admin_headers(http)
        clerk = staff(http, a, "koseki-csv", "clerk", ["市民課 戸籍係"])
        pid = http.get("/api/forms/procedures/koseki-by-post", headers=clerk).json()["id"]
        r = http.post(f"/api/forms/procedures/{pid}/applications", headers=clerk,
                      json={"channel": "paper", "answers": koseki_answers(id_copy=None, copies="２")})
        assert r.status_code == 422 and ("id_copy", "required") in [
            (d["field"], d["problem"]) for d in r.json()["error"]["details"]]
        # Staff enter through the same form; here the section makes the copy optional for requests by post.
        v = http.get(f"/api/forms/procedures/{pid}/versions/1", headers=clerk).json()["form"]
        v["pages"][2]["questions"][0]["required"] = False
        boss = staff(http, a, "koseki-boss", "supervisor", ["市民課 戸籍係"])
        http.put(f"/api/forms/procedures/{pid}/draft", json={"form": v}, headers=clerk)
        # Not asked for yet: the supervisor cannot publish the clerk's draft unseen.
        assert http.post(f"/api/forms/procedures/{pid}/draft/publish", json={"number": 2},
                         headers=boss).json()["error"]["code"] == "no_draft"
        assert http.post(f"/api/forms/procedures/{pid}/draft/request", headers=clerk).status_code == 200
        assert http.post(f"/api/forms/procedures/{pid}/draft/publish", json={"number": 2},
                         headers=boss).status_code == 200
        r = http.post(f"/api/forms/procedures/{pid}/applications", headers=clerk,
                      json={"channel": "post", "answers": koseki_answers(copies="２")})
        assert r.status_code == 201 and r.json()["channel"] == "post", r.text
        posted = r.json()
        unusual = koseki_answers(name={"family": "\U00020bb7田", "given": "一郎", "family_kana": "ヨシダ",
                                       "given_kana": "イチロウ"})
        r = http.post(f"/api/forms/procedures/{pid}/applications", headers=clerk,
                      json={"channel": "phone", "answers": unusual})
        assert r.status_code == 201
        # Bulk: one can move, one was finished already.
        ids = [posted["id"], r.json()["id"]]
        http.put(f"/api/forms/applications/{ids[1]}/status", json={"status": "rejected"}, headers=clerk)
        bulk = http.post("/api/forms/applications/status", json={"ids": ids, "status": "in_progress"},
                         headers=clerk).json()
        assert [x["id"] for x in bulk["changed"]] == [ids[0]]
        assert [(x["id"], x["code"]) for x in bulk["failed"]] == [(ids[1], "application_closed")]
        # CSV in UTF-8 with BOM, read back with the csv module: the same columns for every version.
        r = http.get(f"/api/forms/procedures/{pid}/applications.csv", headers=clerk)
        assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
        table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
        by_ref = {row["reference"]: row for row in table}
        assert by_ref[posted["reference"]]["channel"] == "post" and by_ref[posted["reference"]]["copies"] == "2"
        assert by_ref[posted["reference"]]["name.family_kana"] == "サトウ"
        assert by_ref[posted["reference"]]["certificates"] == "tohon" and by_ref[posted["reference"]]["version"] == "2"
        assert "id_copy.name" in table[0]                         # the question of version 1 keeps its column
        # Shift_JIS: refused, naming the application, while a name needs a character it cannot hold.
        r = http.get(f"/api/forms/procedures/{pid}/applications.csv", params={"encoding": "shift_jis"},
                     headers=clerk)
        assert r.status_code == 422 and r.json()["error"]["code"] == "not_encodable"
        assert "\U00020bb7" in r.json()["error"]["message"]
        assert http.get(f"/api/forms/procedures/{pid}/applications.csv", params={"encoding": "euc"},
                        headers=clerk).status_code == 422


def test_a_form_travels_to_another_city_as_one_file(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        a = admin_headers(http)
        shared = http.get("/api/forms/procedures/inu-toroku/export", headers=a)
        assert shared.status_code == 200 and "attachment" in shared.headers["content-disposition"]
        file = shared.json()
        file["procedure"]["slug"] = "inu-toroku-2"
        r = http.post("/api/forms/import", json={"file": file}, headers=a)
        assert r.status_code == 201 and r.json()["state"] == "draft" and r.json()["draft"]["number"] == 1
        before = http.get("/api/forms/procedures", headers=a).json()["procedures"]
        file["procedure"]["slug"] = "inu-toroku-3"
        file["procedure"]["fee_yen"] = -1
        file["form"]["pages"][1]["questions"][3]["options"] = []
        r = http.post("/api/forms/import", json={"file": file}, headers=a)
        assert r.status_code == 422 and r.json()["error"]["code"] == "form_invalid"
        fields = {d["field"] for d in r.json()["error"]["details"]}
        assert "procedure.fee_yen" in fields and any(f.startswith("form.pages.1.questions.3") for f in fields)
        assert http.get("/api/forms/procedures", headers=a).json()["procedures"] == before
        # Not published: citizens cannot find or start it.
        assert "inu-toroku-2" not in [p["slug"] for p in http.get("/apply/api/procedures").json()["procedures"]]
        assert http.post("/apply/api/drafts", json={"procedure": "inu-toroku-2"}).json()["error"]["code"] \
            == "procedure_not_open"
        # Copy within the city.
        r = http.post("/api/forms/procedures/sodai-gomi/copy", json={"slug": "sodai-gomi-b"}, headers=a)
        assert r.status_code == 201 and r.json()["slug"] == "sodai-gomi-b"
        assert http.post("/api/forms/procedures/sodai-gomi/copy", json={"slug": "sodai-gomi-b"},
                         headers=a).json()["error"]["code"] == "conflict"
    db = sqlite3.connect(server.data_dir / "madoguchi.sqlite3")
    try:
        actions = [r[0] for r in db.execute("select action from audit where action like 'forms.%'")]
    finally:
        db.close()
    assert {"forms.procedure_created", "forms.published", "forms.sections"} <= set(actions)


def test_a_paper_application_is_entered_with_its_scanned_papers(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        a = admin_headers(http)
        clerk = staff(http, a, "jumin-entry", "clerk", [JUMIN])
        pid = http.get("/api/forms/procedures/juminhyo-by-post", headers=clerk).json()["id"]
        scan = jpeg((800, 600))
        r = http.post(f"/api/forms/procedures/{pid}/files", params={"question": "id_copy"}, content=scan,
                      headers={**clerk, "Content-Type": "application/octet-stream", "X-File-Name": "scan.jpg"})
        assert r.status_code == 201, r.text
        r2 = http.post(f"/api/forms/procedures/{pid}/files", params={"question": "id_copy"}, content=b"%PDF-1.4 no end",
                       headers={**clerk, "Content-Type": "application/octet-stream"})
        assert r2.status_code == 422 and r2.json()["error"]["code"] == "bad_file"
        # Another section's clerk cannot attach to it.
        gomi = staff(http, a, "gomi-entry", "clerk", ["環境課 清掃係"])
        assert http.post(f"/api/forms/procedures/{pid}/files", params={"question": "id_copy"}, content=scan,
                         headers={**gomi, "Content-Type": "application/octet-stream"}).status_code == 403
        entry = http.post(f"/api/forms/procedures/{pid}/applications", headers=clerk,
                          json={"channel": "post", "answers": {**jumin_answers(), "id_copy": {"id": r.json()["id"]}}})
        assert entry.status_code == 201, entry.text
        detail = http.get(f"/api/forms/applications/{entry.json()['id']}", headers=clerk).json()
        assert [(f["name"], f["size"]) for f in detail["files"]] == [("scan.jpg", len(scan))]
        got = http.get(f"/api/forms/applications/{entry.json()['id']}/files/{detail['files'][0]['id']}", headers=clerk)
        assert got.content == scan and got.headers["content-type"] == "image/jpeg"
        submitted = next(h for h in detail["history"] if h["action"] == "submitted")
        assert submitted["actor_name"] == "jumin-entry" and submitted["detail"]["channel"] == "post"
        # The same scan cannot be used twice: it belongs to the first entry now.
        again = http.post(f"/api/forms/procedures/{pid}/applications", headers=clerk,
                          json={"channel": "post", "answers": {**jumin_answers(), "id_copy": {"id": r.json()["id"]}}})
        assert again.status_code == 422 and ("id_copy", "bad_file") in [
            (d["field"], d["problem"]) for d in again.json()["error"]["details"]]


def test_the_csv_keeps_columns_across_versions_and_never_runs_a_formula() -> None:
    from online_forms.export import csv_table
    from online_forms.form import parse_form
    from online_forms.store import ApplicationRow

    def form(questions: list[dict[str, Any]]) -> Any:
        return parse_form({"format": 1, "title": {"ja": "t"},
                           "pages": [{"id": "p", "title": {"ja": "p"}, "questions": questions}]})

    v1 = form([{"id": "applicant", "type": "text", "label": {"ja": "申請者"}},
               {"id": "memo", "type": "text", "label": {"ja": "メモ"}}])
    v2 = form([{"id": "applicant", "type": "name", "label": {"ja": "申請者"}, "kana": False},
               {"id": "memo", "type": "text", "label": {"ja": "メモ"}}])

    def app(ref: str, answers: dict[str, Any]) -> Any:
        from datetime import UTC, datetime
        now = datetime(2026, 12, 1, tzinfo=UTC)
        return ApplicationRow(ref, "p", "v", ref, "received", "online", answers, None, now, now)

    old = app("A-1", {"applicant": "山田太郎", "memo": '=HYPERLINK("http://x","y")'})
    new = app("A-2", {"applicant": {"family": "山田", "given": "花子", "family_kana": "", "given_kana": ""},
                      "memo": "-3 ok"})
    meta = {"reference": "", "status": "", "channel": "", "submitted_at": "", "version": ""}
    header, table = csv_table([(1, v1), (2, v2)], [(old, 1, meta), (new, 2, meta)])
    assert header[5:] == ["applicant:text", "memo", "applicant:name.family", "applicant:name.given",
                          "applicant:name.family_kana", "applicant:name.given_kana"]
    assert table[0][5:7] == ["山田太郎", "'=HYPERLINK(\"http://x\",\"y\")"]     # kept, and never a formula
    assert table[1][5:9] == ["", "'-3 ok", "山田", "花子"]
