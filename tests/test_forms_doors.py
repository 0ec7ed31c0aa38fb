"""The citizens' door served alone (issue 14, point 6: "keep the citizen side separable … no staff route
reachable through it"): `madoguchi serve --door apply` beside the main server, on the same database. A
citizen applies through it; staff see the application through the main server; nothing of the staff's
side, the floor or the WebSocket answers through the citizens' door."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .serverkit import ADMIN_PASSWORD, ServerProcess
from .test_forms_apply import jpeg
from .test_forms_staff import koseki_answers


def test_the_citizens_door_alone_takes_applications_and_nothing_else(tmp_path: Path) -> None:
    main = ServerProcess(tmp_path / "data").start()
    door = ServerProcess(tmp_path / "data", args=("--door", "apply")).start()
    try:
        with httpx.Client(base_url=door.url, timeout=30) as citizen, \
                httpx.Client(base_url=main.url, timeout=30) as staff:
            # The citizen's whole way through the door.
            assert citizen.get("/", follow_redirects=False).headers["location"] == "/apply/"
            assert citizen.get("/apply/").status_code == 200
            draft = citizen.post("/apply/api/drafts", json={"procedure": "koseki-by-post"}).json()
            code = {"X-Draft-Code": draft["code"]}
            photo = citizen.post("/apply/api/draft/files", params={"question": "id_copy"}, content=jpeg(),
                                 headers={**code, "Content-Type": "application/octet-stream"}).json()
            citizen.put("/apply/api/draft", json={"answers": {**koseki_answers(), "id_copy": {"id": photo["id"]}},
                                                  "page": None}, headers=code)
            sent = citizen.post("/apply/api/draft/submit", json={"version_id": draft["version"]["id"]}, headers=code)
            assert sent.status_code == 201, sent.text
            # Staff see it through the main server, with its attachment.
            signed = staff.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
            admin = {"Authorization": f"Bearer {signed.json()['token']}"}
            detail = staff.get(f"/api/forms/applications/{sent.json()['reference']}", headers=admin).json()
            assert detail["status"] == "received" and [f["type"] for f in detail["files"]] == ["image/jpeg"]
            # Nothing else answers through the door, even with a staff token.
            for path in ("/api/staff", "/api/forms/applications", "/api/forms/procedures", "/api/state",
                         "/api/openapi.json", "/api/auth/me", "/counter/", "/kiosk/", "/displays/staff.html",
                         f"/api/forms/applications/{detail['id']}/files/{detail['files'][0]['id']}"):
                r = citizen.get(path, headers=admin)
                assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", path
            assert citizen.post("/api/auth/login", json={"username": "admin",
                                                          "password": ADMIN_PASSWORD}).status_code == 404
            assert citizen.get("/api/health").json() == {"status": "ok"}
        with pytest.raises(InvalidStatus):
            with connect(door.url.replace("http", "ws", 1) + "/ws"):
                pass
    finally:
        door.stop()
        main.stop()
    assert any("the citizens' side only" in line for line in door.lines)
