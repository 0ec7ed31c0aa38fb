"""The office file: validated on load with clear errors; the CLI's exit codes."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from server.config import DEMO_OFFICE, ConfigError, load
from server.launch import ServerProcess as Launcher  # no preset admin password: the demo generates one

from .serverkit import bearer, clerk
from .serverkit import login as login_as
from .wskit import Display

DEMO = DEMO_OFFICE.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "office.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_demo_office_is_bunkyos_floor() -> None:
    layout, calendar = load(DEMO_OFFICE)
    by_section: dict[str, int] = {}
    for counter in layout.counters.values():
        by_section[counter.section] = by_section.get(counter.section, 0) + 1
    assert by_section == {"koseki": 3, "shomei": 6, "juki": 14, "service": 2}
    assert [f.name.ja for f in layout.flows.values()] == ["戸籍届出と証明発行の受付", "住民異動の受付", "証明の交付"]
    assert all(f.symbol and f.colour for f in layout.flows.values())
    assert layout.queues["shomei"].handover_queue == "kofu"
    assert calendar.enforce
    # The kiosk's five languages, the screens' timings and the two kiosks of seed 004 8(1).
    assert layout.queues["idou"].name.as_dict().keys() == {"ja", "en", "easy", "zh", "ko"}
    assert layout.screens.staff_rotate_s == 12 and layout.screens.kiosk_return_s == 10
    assert {k: m.queues for k, m in layout.kiosk_menus.items()} == {
        "koseki_shomei": ("shomei", "koseki"), "idou": ("idou", "inkan", "mynumber")}


@pytest.mark.parametrize("old, new, message", [
    ('policy = "oldest"', 'policy = "random"', "office.policy"),
    ('symbol = "●"\n\n[[flows]]', 'symbol = ""\n\n[[flows]]', "flows[0].symbol"),
    ('number_range = [1, 1999]', 'number_range = [1999, 1]',
     "queues[0].number_range: Value error, first must not exceed last"),
    ('number_range = [2001, 2999]', 'number_range = [1500, 2999]', "same prefix and overlapping number ranges"),
    ('handover_queue = "kofu"', 'handover_queue = "nowhere"', "queues[0].handover_queue: no queue 'nowhere'"),
    ('queues = ["kofu"]', 'queues = ["kofu", "ghost"]', "counters[3].queues: no queue 'ghost'"),
    ('first = 24', 'first = 23', "counter 23 is defined twice"),
    ('mon = ["08:30", "17:15"]', 'mon = ["17:15", "08:30"]',
     "calendar.weekdays.mon: opening 17:15 is not before closing 08:30"),
    ('mon = ["08:30", "17:15"]', 'mon = ["8h30", "17:15"]', "calendar.weekdays.mon: '8h30' is not a time"),
    ('nth = 2', 'nth = 0', "calendar.extra[0].nth"),
    ('[office]', '[office]\ncolour = "red"', "office.colour: Extra inputs are not permitted"),
    ('[office]', '[office', "not valid TOML"),
    ('certificates" }\nqueues = ["shomei", "koseki"]', 'certificates" }\nqueues = ["shomei", "ghost"]',
     "kiosk_menus[0].queues: no queue 'ghost'"),
    ('certificates" }\nqueues = ["shomei", "koseki"]', 'certificates" }\nqueues = ["kofu"]',
     "kiosk_menus[0].queues: queue 'kofu' does not issue tickets"),
    ('staff_rotate_s = 12', 'staff_rotate_s = 0', "screens.staff_rotate_s"),
    ('id = "idou"\nname = { ja = "住民異動",', 'id = "koseki_shomei"\nname = { ja = "住民異動",',
     "kiosk_menus[1].id: 'koseki_shomei' appears twice"),
])
def test_a_bad_office_file_names_the_file_the_key_and_the_problem(tmp_path: Path, old: str, new: str,
                                                                  message: str) -> None:
    assert old in DEMO
    path = write(tmp_path, DEMO.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).startswith("office.toml: ")
    assert message in str(err.value)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=60)


def test_check_config_and_serve_exit_2_on_a_bad_file(tmp_path: Path) -> None:
    ok = cli("check-config", str(DEMO_OFFICE))
    assert ok.returncode == 0 and "25 counters" in ok.stdout
    bad = write(tmp_path, DEMO.replace('policy = "oldest"', 'policy = "random"'))
    done = cli("check-config", str(bad))
    assert done.returncode == 2 and "office.toml: office.policy" in done.stderr
    done = cli("serve", "--config", str(bad), "--port", "0", "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2 and "office.policy" in done.stderr
    assert "Traceback" not in done.stderr
    done = cli("serve", "--config", str(tmp_path / "missing.toml"), "--port", "0", "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2 and "file not found" in done.stderr
    done = cli("serve", "--port", "99999")
    assert done.returncode == 2


def test_a_real_config_enforces_the_calendar(tmp_path: Path) -> None:
    from datetime import datetime

    from server.core.calendar import TOKYO
    _, calendar = load(write(tmp_path, DEMO))
    assert calendar.opening_at(datetime(2026, 11, 22, 10, 0, tzinfo=TOKYO)) is None
    _, rehearsal = load(write(tmp_path, DEMO), rehearsal=True)
    assert rehearsal.opening_at(datetime(2026, 11, 22, 10, 0, tzinfo=TOKYO)) is not None


# ------------------------------------------------------------------ what `madoguchi serve` prints

def banner_urls(lines: list[str]) -> list[str]:
    """Every http(s) link the start-up banner prints (placeholders like <ticket token> left out)."""
    return [u for u in re.findall(r"https?://\S+", "\n".join(lines)) if "<" not in u]


def test_every_printed_link_works_and_the_api_index_lists_every_route(tmp_path: Path) -> None:
    from server.api.registry import SPECS
    from server.app import create_app  # noqa: F401  (imports every route module)

    server = Launcher(tmp_path / "data")
    try:
        server.start()
        text = "\n".join(server.lines)
        for label, path in (("API index", "/api/"), ("OpenAPI", "/api/openapi.json"),
                            ("Statistics", "/counter/stats.html")):
            assert re.search(rf"^  {label} +{re.escape(server.url + path)}(\s|$)", text, re.M), label
        urls = banner_urls(server.lines)
        assert len(urls) >= 12
        for url in urls:
            parts = urlsplit(url)
            assert "token" not in parts.query, url            # tokens only in the fragment, never sent
            r = httpx.get(url.split("#")[0], timeout=30, follow_redirects=True)
            assert r.status_code == 200, (url, r.status_code, r.text[:200])
        index = httpx.get(server.url + "/api/", timeout=30).json()
        listed = {(r["method"], r["path"]) for r in index["routes"]}
        assert listed == {(s.method, s.path) for s in SPECS} | {("GET", "/api/openapi.json")}
        assert index["openapi"] == "/api/openapi.json" and index["websocket"] == "/ws"
        assert all(r["access"] and r["summary"] for r in index["routes"])
        assert httpx.get(server.url + "/api", follow_redirects=True, timeout=30).json() == index
        doc = httpx.get(server.url + "/api/openapi.json", timeout=30).json()
        ok = doc["paths"]["/api/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": "#/components/schemas/ApiIndex"} and "RouteInfo" in doc["components"]["schemas"]
    finally:
        server.stop()


def audit_rows(data: Path, action: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(data / "madoguchi.sqlite3")
    try:
        return db.execute("SELECT actor, detail FROM audit WHERE action = ? ORDER BY id", (action,)).fetchall()
    finally:
        db.close()


async def open_counter(url: str, admin_password: str, name: str, counter: str) -> None:
    """A clerk account ``name`` signs in at ``counter`` (created with the generated admin password)."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await clerk(client, await login_as(client, "admin", admin_password), name, counter=counter)


async def works_as_display(server: Launcher, token: str) -> bool:
    display = await Display.open(server.ws_url, bearer(token))
    try:
        await display.send({"type": "subscribe", "id": 1, "topics": ["staff"]})
        return bool((await display.next())["type"] == "result")
    finally:
        await display.close()


def test_the_demo_links_survive_a_restart_and_a_lost_admin_password_is_reset(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Launcher(data)
    try:
        first.start()
        found = re.search(r"user 'admin', password '(\S+)'", "\n".join(first.lines))
        assert found is not None
        password = found.group(1)
        asyncio.run(open_counter(first.url, password, "links-clerk-1", "4"))   # 証明発行 issues once staffed
        r = httpx.post(first.url + "/api/tickets", json={"queue": "shomei"}, headers=bearer(first.kiosk))
        assert r.status_code == 201
        number = r.json()["number"]
    finally:
        first.stop()
    assert stat.S_IMODE(os.stat(data / "demo-devices.json").st_mode) == 0o600

    second = Launcher(data)
    try:
        second.start()
        text = "\n".join(second.lines)
        # The same kiosk and display as before the restart: the links printed then still work.
        assert (second.kiosk, second.display) == (first.kiosk, first.display)
        assert f"#token={first.kiosk}" in text and f"#token={first.display}" in text
        r = httpx.post(second.url + "/api/tickets", json={"queue": "shomei"}, headers=bearer(first.kiosk))
        assert r.status_code == 201 and r.json()["number"] == number + 1
        assert asyncio.run(works_as_display(second, first.display))
        # The password is not printed again; how to get a new one is.
        assert "password '" not in text and "madoguchi admin reset-password USER" in text
        assert login(second.url, "admin", password) == 200

        done = cli("admin", "reset-password", "admin", "--data-dir", str(data))
        assert done.returncode == 0, done.stderr
        found = re.search(r"new password for 'admin': (\S+)", done.stdout)
        assert found is not None
        new = found.group(1)
        assert len(new) >= 16 and new != password
        assert login(second.url, "admin", new) == 200
        assert login(second.url, "admin", password) == 401
        (actor, detail), = audit_rows(data, "staff.password_set")
        assert actor.startswith("cli:") and len(detail) == 32        # who, and whose (the account's id)

        # An unknown user: a clear error, exit 2, nothing changed.
        done = cli("admin", "reset-password", "nobody", "--data-dir", str(data))
        assert done.returncode == 2 and "no staff account 'nobody' (accounts: admin, links-clerk-1)" in done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
        assert len(audit_rows(data, "staff.password_set")) == 1 and login(second.url, "admin", new) == 200
        # No database there: said, and none is made.
        done = cli("admin", "reset-password", "admin", "--data-dir", str(tmp_path / "elsewhere"))
        assert done.returncode == 2 and "no database at" in done.stderr
        assert not (tmp_path / "elsewhere").exists()

        # An admin revokes the demo kiosk: the next start prints a new kiosk link that works.
        signed_in = httpx.post(second.url + "/api/auth/login", json={"username": "admin", "password": new})
        headers = bearer(signed_in.json()["token"])
        devices = httpx.get(second.url + "/api/devices", headers=headers).json()
        kiosk_id = next(d["id"] for d in devices if d["name"] == "demo-kiosk")
        assert httpx.delete(f"{second.url}/api/devices/{kiosk_id}", headers=headers).status_code == 200
    finally:
        second.stop()

    third = Launcher(data)
    try:
        third.start()
        assert third.kiosk != first.kiosk and third.display == first.display
        assert f"#token={third.kiosk}" in "\n".join(third.lines)
        for token, status in ((third.kiosk, 201), (first.kiosk, 401)):
            r = httpx.post(third.url + "/api/tickets", json={"queue": "shomei"}, headers=bearer(token))
            assert r.status_code == status
    finally:
        third.stop()


def login(url: str, username: str, password: str) -> int:
    r = httpx.post(url + "/api/auth/login", json={"username": username, "password": password}, timeout=30)
    return r.status_code


# --------------------------------------------------------------------------- labels (issue 13, point 13)

LONG = "窓" * 100_000


@pytest.mark.parametrize("old, new, message", [
    ('ja = "文京区 戸籍住民課"', f'ja = "{LONG}"', "office.name.ja: String should have at most 40 characters"),
    ('en = "Bunkyo City, Family Register and Residents Division"', f'en = "{"x" * 81}"',
     "office.name.en: String should have at most 80 characters"),
    ('name = { ja = "戸籍係"', f'name = {{ ja = "{"戸" * 41}"', "sections[0].name.ja: String should have at most 40"),
    ('zh = "证明书发行（住民票・印章证明・户籍证明）"', f'zh = "{"证" * 41}"',
     "queues[0].name.zh: String should have at most 40"),
    ('easy = "しょうめいしょを もらう（じゅうみんひょう など）"', f'easy = "{"あ" * 81}"',
     "queues[0].name.easy: String should have at most 80"),
    ('mon = ["08:30", "17:15"]', f'mon = ["{"8" * 100_000}", "17:15"]',
     "calendar.weekdays.mon[0]: String should have at most 8 characters"),
])
def test_every_label_of_the_office_file_is_bounded(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in DEMO
    path = write(tmp_path, DEMO.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load(path)
    assert message in str(err.value) and len(str(err.value)) < 300


def test_check_config_refuses_a_100000_character_name_and_takes_one_of_40(tmp_path: Path) -> None:
    done = cli("check-config", str(write(tmp_path, DEMO.replace('ja = "文京区 戸籍住民課"', f'ja = "{LONG}"', 1))))
    assert done.returncode == 2 and "office.name.ja: String should have at most 40 characters" in done.stderr
    assert len(done.stderr) < 300 and "Traceback" not in done.stderr
    done = cli("check-config", str(write(tmp_path, DEMO.replace('ja = "文京区 戸籍住民課"', f'ja = "{"窓" * 40}"', 1))))
    assert done.returncode == 0, done.stderr


def test_check_config_warns_of_characters_the_ticket_font_cannot_draw(tmp_path: Path) -> None:
    ok = cli("check-config", str(DEMO_OFFICE))
    assert ok.returncode == 0 and "warning" not in ok.stderr, ok.stderr
    emoji = DEMO.replace('ja = "文京区 戸籍住民課"', 'ja = "文京区 戸籍住民課🎫"', 1).replace(
        'en = "Certificates (residence, seal, family register)"', 'en = "Certificates 😀😀"', 1)
    done = cli("check-config", str(write(tmp_path, emoji)))
    assert done.returncode == 0 and "25 counters" in done.stdout  # a warning, not an error
    warnings = [line for line in done.stderr.splitlines() if line.startswith("madoguchi: warning: ")]
    assert len(warnings) == 2, done.stderr
    assert "office.toml: office.name.ja: the ticket font cannot draw '🎫' (U+1F3AB)" in warnings[0]
    assert "office.toml: queues[0].name.en: the ticket font cannot draw '😀' (U+1F600);" in warnings[1]
    assert "print as boxes" in warnings[1]
