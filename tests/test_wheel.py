"""``pip install`` of the source tree (a built wheel, not an editable install) in a fresh virtual
environment gives a ``madoguchi serve`` whose every screen and asset is served.

The install follows the notes at the head of ``systemd/madoguchi.service`` line by line (each
``#   `` line is one command), under a temporary root instead of ``/``; the server is started
with that unit's ``ExecStart``, ``Environment``, ``EnvironmentFile`` and ``WorkingDirectory``
(listening on a free loopback port instead of 0.0.0.0:8000), from a working directory outside
the source tree, so that nothing can be found through a checkout.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "madoguchi.service"
ADMIN_PASSWORD = "quiet-lantern-harbor-4817-wheel"  # passes the password rules (server/passwords.py)

#: Content types by file suffix (what browsers need: module scripts are refused under any other).
CONTENT_TYPES = {
    ".html": ("text/html",),
    ".css": ("text/css",),
    ".js": ("text/javascript", "application/javascript"),
    ".svg": ("image/svg+xml",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


def install_commands(unit: str) -> list[str]:
    """The commands of the unit's install notes: its leading comment lines indented as ``#   ``."""
    head = unit[: unit.index("[Unit]")]
    return [line[4:].strip() for line in head.splitlines() if line.startswith("#   ") and line[4:].strip()]


def source_tree(dest: Path) -> Path:
    """A copy of the files a fresh clone has (tracked, plus new files not ignored), so that
    building the wheel neither writes into this checkout nor sees its build leftovers."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


class Rooted:
    """Maps the absolute paths of the notes and the unit into a temporary root."""

    def __init__(self, root: Path, source: Path) -> None:
        self.root, self.source = root, source

    def __call__(self, text: str) -> str:
        """``text`` with ``/path/to/madoguchi`` → the source copy and ``/opt``, ``/etc``, ``/var`` → the root."""
        text = re.sub(r"(?<![\w.-])/(opt|etc|var)/", lambda m: f"{self.root}/{m.group(1)}/", text)
        return text.replace("/path/to/madoguchi", str(self.source))


def unit_values(unit: str, key: str) -> list[str]:
    """Every value of ``key=`` in the unit's sections."""
    body = unit[unit.index("[Unit]"):]
    return [line.split("=", 1)[1].strip() for line in body.splitlines() if line.startswith(key + "=")]


class Assets(HTMLParser):
    """The ``src`` and ``href`` URLs of an HTML page (``data:`` URLs left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Collect ``src`` and ``href`` (links to other pages included: they must answer too)."""
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith(("data:", "#", "mailto:")):
                self.urls.append(value)


# Static imports and re-exports at a statement's start (not the word "export's" in a comment), and import().
JS_IMPORT = re.compile(r"""(?m)^\s*(?:import\s*(?:[\w*${}\s,]+\s*from\s*)?|export\s*[\w*${}\s,]+\s*from\s*)"""
                       r"""["']([^"']+)["']"""
                       r"""|\bimport\(\s*["']([^"']+)["']""")
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)|@import\s+["']([^"']+)["']""")


def referenced(url: str, content_type: str, body: str) -> list[str]:
    """Absolute URLs of what a page, module or stylesheet at ``url`` references."""
    if content_type.startswith("text/html"):
        parser = Assets()
        parser.feed(body)
        found = parser.urls
    elif content_type.startswith(("text/javascript", "application/javascript")):
        found = [a or b for a, b in JS_IMPORT.findall(body)]
    elif content_type.startswith("text/css"):
        found = [a or b for a, b in CSS_URL.findall(body) if not (a or b).startswith("data:")]
    else:
        found = []
    return [urljoin(url, ref).split("#")[0] for ref in found]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rooted, str]]:
    """Runs the install notes under a temporary root; yields the path mapping and the unit as installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    unit = UNIT.read_text(encoding="utf-8")
    commands = install_commands(unit)
    assert any("pip install /path/to/madoguchi" in c for c in commands), commands
    apt = next(c for c in commands if c.startswith("apt-get install"))
    assert "fonts-noto-cjk" in apt.split() and "python3-venv" in apt.split()
    rooted = Rooted(tmp / "root", source_tree(tmp / "src"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "MADOGUCHI_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    for command in commands:
        if command.split()[0] in ("apt-get", "systemctl"):
            continue   # packages are installed here already; there is no systemd to manage
        done = subprocess.run(rooted(command), shell=True, cwd=tmp, env=env, capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    installed_unit = Path(rooted("/etc/systemd/system/madoguchi.service")).read_text(encoding="utf-8")
    assert installed_unit == unit
    # The notes say the source tree is not needed afterwards: take it away before serving.
    shutil.rmtree(rooted.source)
    yield rooted, installed_unit


def test_the_install_notes_build_a_wheel_into_a_fresh_venv(installed: tuple[Rooted, str]) -> None:
    rooted, _ = installed
    python = rooted("/opt/madoguchi/.venv/bin/python")
    probe = ("import importlib.metadata as m, json, server, kiosk; "
             "print(json.dumps([server.__file__, kiosk.__file__, "
             "m.distribution('madoguchi').read_text('direct_url.json') or '']))")
    bare = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([python, "-c", probe], cwd=rooted.root, capture_output=True, text=True, env=bare)
    assert done.returncode == 0, done.stderr
    server_file, kiosk_file, direct_url = json.loads(done.stdout)
    site = Path(rooted("/opt/madoguchi/.venv/lib"))
    assert Path(server_file).is_relative_to(site) and Path(kiosk_file).is_relative_to(site)
    assert '"editable": true' not in direct_url   # a built wheel, not a link to the source tree
    # A fresh venv: the test suite's own packages (pytest) are not visible in it.
    done = subprocess.run([python, "-c", "import pytest"], cwd=rooted.root, capture_output=True, text=True, env=bare)
    assert done.returncode != 0 and "No module named 'pytest'" in done.stderr


def test_the_installed_unit_serves_every_screen_and_asset(installed: tuple[Rooted, str]) -> None:
    rooted, unit = installed
    (exec_start,) = unit_values(unit, "ExecStart")
    assert "--host 0.0.0.0 --port 8000" in exec_start
    command = shlex.split(rooted(exec_start.replace("--host 0.0.0.0 --port 8000", "--host 127.0.0.1 --port 0")))
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(rooted.root)}
    for value in unit_values(unit, "Environment"):
        key, _, val = value.partition("=")
        env[key] = rooted(val)
    (env_file,) = unit_values(unit, "EnvironmentFile")
    settings = Path(rooted(env_file.lstrip("-")))
    settings.write_text(f"MADOGUCHI_ADMIN_PASSWORD={ADMIN_PASSWORD}\nMADOGUCHI_REHEARSAL=true\n", encoding="utf-8")
    for line in settings.read_text(encoding="utf-8").splitlines():
        key, _, val = line.partition("=")
        env[key] = val
    (workdir,) = unit_values(unit, "WorkingDirectory")
    Path(env["MADOGUCHI_DATA_DIR"]).mkdir(parents=True, exist_ok=True)   # StateDirectory=
    proc = subprocess.Popen(command, cwd=rooted(workdir), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: list[str] = []
    listening = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "Public status" in line:
                listening.set()
        listening.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert listening.wait(60) and proc.poll() is None, "\n".join(lines)
        found = re.search(r"listening on (http://\S+)", "\n".join(lines))
        assert found, "\n".join(lines)
        serve_every_page(found.group(1))
    finally:
        proc.terminate()
        proc.wait(15)
        reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
    assert not [line for line in lines if "Traceback" in line or " ERROR " in line], "\n".join(lines)


def serve_every_page(base: str) -> None:
    """Fetch every page, then every asset they reference (transitively), checking status and type."""
    with httpx.Client(base_url=base, timeout=30) as http:
        deadline = time.monotonic() + 30   # the banner comes before the socket accepts
        while time.monotonic() < deadline:
            try:
                if http.get("/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        admin = {"Authorization": "Bearer " + http.post(
            "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]}
        device = http.post("/api/devices", headers=admin, json={"kind": "kiosk", "name": "wheel test"})
        code = device.json()["pairing_code"]
        kiosk = {"Authorization": "Bearer " + http.post("/api/devices/pair", json={"code": code}).json()["token"]}
        # A clerk opens counter 4 (証明係), so that 証明発行 issues (before that: 準備中).
        clerk = {"username": "wheel-clerk", "password": "spring tide ledger 2093", "role": "clerk"}
        assert http.post("/api/staff", headers=admin, json=clerk).status_code == 201
        clerk_login = http.post("/api/auth/login", json={"username": clerk["username"], "password": clerk["password"]})
        desk = {"Authorization": "Bearer " + clerk_login.json()["token"]}
        assert http.post("/api/counters/4/sign-in", headers=desk).status_code == 200
        issued = http.post("/api/tickets", headers=kiosk, json={"queue": "shomei"})
        assert issued.status_code == 201, issued.text
        token = issued.json()["token"]
        pages = {
            "/kiosk/": "text/html", "/counter/": "text/html", "/counter/stats.html": "text/html",
            "/displays/guidance.html": "text/html", "/displays/counter.html?counter=5": "text/html",
            "/displays/staff.html": "text/html", "/status": "text/html", f"/t/{token}": "text/html",
            f"/t/{token}/qr.svg": "image/svg+xml", f"/t/{token}/ticket.png?paper=80": "image/png",
            "/api/openapi.json": "application/json", "/api/state": "application/json",
        }
        seen: set[str] = set()
        todo = [base + page for page in pages]
        fetched: dict[str, str] = {}
        while todo:
            url = todo.pop()
            if url in seen or urlsplit(url).netloc != urlsplit(base).netloc:
                continue
            seen.add(url)
            r = http.get(url)
            assert r.status_code == 200, f"{url}: {r.status_code} {r.text[:300]}"
            kind = r.headers["content-type"]
            path = urlsplit(url).path
            want = pages.get(url[len(base):]) or CONTENT_TYPES.get(Path(path).suffix, ("text/html",))
            assert kind.split(";")[0] in ((want,) if isinstance(want, str) else want), f"{url}: {kind}"
            fetched[path] = kind
            if kind.startswith(("text/", "application/javascript")):
                todo.extend(referenced(url, kind, r.text))
        # The pages did reference their scripts, styles and the shared modules.
        for asset in ("/static/live.js", "/static/base.css", "/kiosk/kiosk.js", "/kiosk/kiosk.css",
                      "/counter/counter.js", "/counter/stats.js", "/displays/guidance.js", "/displays/staff.js",
                      "/displays/counter.js",
                      "/displays/displays.css", "/static/ticket.js", "/static/status.js", "/static/phone.css"):
            assert asset in fetched, sorted(fetched)
