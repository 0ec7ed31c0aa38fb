"""Schema migrations: a database of the previous revision upgrades in place and is served;
the models and the migrations agree; serve refuses an out-of-date database unless told to
upgrade it; databases it must not touch are refused. Real SQLite files, real servers."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, insert
from sqlalchemy.ext.asyncio import create_async_engine

from server.config import DEMO_OFFICE
from server.core import commands as c
from server.core.calendar import TOKYO, business_day
from server.storage import migrate, schema
from server.storage.database import EventLog

from .serverkit import ServerProcess, admin, bearer
from .statskit import CLERKS, History

HEAD = migrate.head()


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'madoguchi.sqlite3'}"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def diff(url: str) -> list[Any]:
    """What autogenerate would change to make the SQLite database at ``url`` match ``schema.metadata``."""
    engine = create_engine(url.replace("+aiosqlite", ""))
    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    engine.dispose()
    return list(found)


def contents(data_dir: Path) -> dict[str, Any]:
    """What a database holds, read with the sqlite3 module: its revision, indexes and every row."""
    db = sqlite3.connect(data_dir / "madoguchi.sqlite3")
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        out: dict[str, Any] = {
            "revision": db.execute("SELECT version_num FROM alembic_version").fetchall()
            if "alembic_version" in tables else "none",
            "indexes": sorted(n for (n,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")),
        }
        for table in sorted(tables - {"alembic_version"}):
            out[table] = db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        return out
    finally:
        db.close()


def write_day(url: str) -> dict[str, Any]:
    """Today's business day written through the storage layer (the real queue core's events,
    ``EventLog.append``) into a database whatever its revision: three 証明 tickets, the first
    called at counter 4. Returns what the served floor must show."""
    h = History()
    now = datetime.now(TOKYO)
    today = business_day(now)
    h.day(today)
    at = max(datetime.combine(today, datetime.min.time(), TOKYO) + timedelta(seconds=5), now - timedelta(minutes=10))
    tickets = []
    for i in range(3):
        ticket, stage = h.issue("shomei", at + timedelta(seconds=i))
        tickets.append(ticket)
    h.call(stage, tickets[0], "4", "s-aoki", at + timedelta(seconds=4))
    h.run(c.StartService("4", "s-aoki", tickets[0]), at + timedelta(seconds=5))
    assert h.floor is not None

    async def store() -> None:
        engine = create_async_engine(url)   # no schema step: the database stays at its revision
        try:
            await EventLog(engine).append(h.records)
            async with engine.begin() as conn:
                await conn.execute(insert(schema.staff), [
                    {"id": sid, "username": sid, "display_name": name, "role": "clerk", "password_hash": "-",
                     "active": True, "created_at_us": 0} for sid, (name, _) in CLERKS.items()])
        finally:
            await engine.dispose()

    asyncio.run(store())
    return {"serving": tickets[0], "waiting": tickets[1:], "last_number": h.floor.tickets[tickets[-1]].number}


def at_previous_revision(data_dir: Path, *, legacy: bool = False) -> dict[str, Any]:
    """A database at the revision before the head holding today's day; ``legacy``: as made
    before Alembic (the same tables, no ``alembic_version``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    previous = migrate.FIRST if legacy else migrate.revisions()[-2]   # before Alembic meant the first revision
    state = asyncio.run(migrate.migrate(sqlite_url(data_dir), previous))
    assert state.current == previous and not state.up_to_date
    day = write_day(sqlite_url(data_dir))
    if legacy:
        db = sqlite3.connect(data_dir / "madoguchi.sqlite3")
        db.execute("DROP TABLE alembic_version")
        db.commit()
        db.close()
    return day


async def shows_the_day(server: ServerProcess, day: dict[str, Any]) -> None:
    """The served floor is the day written before the upgrade, and numbering continues."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        a = await admin(client)
        kiosk = bearer(server.kiosk)
        if not server.kiosk:   # a real office file: pair a kiosk as an admin would
            r = await client.post("/api/devices", json={"kind": "kiosk", "name": "kiosk-1"}, headers=a)
            r = await client.post("/api/devices/pair", json={"code": r.json()["pairing_code"]})
            kiosk = bearer(r.json()["token"])
        floor = (await client.get("/api/staff/state", headers=a)).json()
        shomei = next(q for q in floor["queues"] if q["id"] == "shomei")
        assert [t["id"] for t in shomei["tickets"]] == day["waiting"]
        counter = next(x for x in floor["counters"] if x["id"] == "4")
        assert counter["ticket_id"] == day["serving"] and counter["ticket_status"] == "serving"
        r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
        assert r.status_code == 201, r.text
        assert r.json()["number"] == day["last_number"] + 1


# --------------------------------------------------------------------------- models vs migrations

def test_the_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    asyncio.run(migrate.migrate(url))
    assert diff(url) == []                          # fails when schema.py and the revisions disagree
    # The check can fail: one revision back, exactly what the head adds is missing.
    asyncio.run(migrate.migrate(url, "0003"))
    found = diff(url)
    assert sorted((d[0], d[1].name) for d in found) == sorted(
        [("add_table", "backoffice_scopes"), ("add_table", "backoffice_deliveries"),
         ("add_index", "ix_application_history_action")]), found
    asyncio.run(migrate.migrate(url, "0002"))
    found = diff(url)
    assert sorted((d[0], d[1].name) for d in found) == sorted(
        [("add_table", t) for t in ("procedures", "form_versions", "applications", "application_history",
                                    "form_drafts", "section_staff", "attachments", "backoffice_scopes",
                                    "backoffice_deliveries")]
        + [("add_index", i) for i in ("ix_applications_procedure_submitted", "ix_applications_status",
                                      "ix_application_history_application", "ix_application_history_action",
                                      "ix_attachments_owner")]), found
    asyncio.run(migrate.migrate(url, "0001"))
    assert ("add_index", "ix_sessions_staff") in [(d[0], getattr(d[1], "name", "")) for d in diff(url)]
    # Down to nothing and up again.
    assert asyncio.run(migrate.migrate(url, "base")).empty
    assert asyncio.run(migrate.migrate(url)).current == HEAD
    assert diff(url) == []
    # A new empty database is created from the models and stamped at the head: the same schema.
    fresh = sqlite_url(tmp_path / "fresh")
    (tmp_path / "fresh").mkdir()
    before, after = asyncio.run(migrate.prepare(fresh, upgrade=False))
    assert before.empty and after.up_to_date and after.current == HEAD
    assert diff(fresh) == []


def test_revision_0001_is_the_schema_as_it_stood_before_alembic() -> None:
    """The first revision creates the tables the pre-Alembic code made, so such a database is stamped with it."""
    previous = migrate.revisions()
    assert previous[0] == migrate.FIRST and len(previous) >= 2
    assert {t.name for t in schema.metadata.sorted_tables} >= migrate.FIRST_TABLES


def test_a_database_made_from_the_models_without_a_stamp_is_only_stamped(tmp_path: Path) -> None:
    """Not mistaken for the first revision (whose upgrade would then fail on what exists)."""
    url = sqlite_url(tmp_path)
    engine = create_engine(url.replace("+aiosqlite", ""))
    schema.metadata.create_all(engine)
    engine.dispose()
    before, after = asyncio.run(migrate.prepare(url, upgrade=False))
    assert before.legacy and before.current == HEAD and after.up_to_date
    assert diff(url) == []


# --------------------------------------------------------------------------- upgrade in place

def test_a_day_at_the_previous_revision_is_upgraded_and_served(tmp_path: Path) -> None:
    data = tmp_path / "data"
    day = at_previous_revision(data)
    stored = contents(data)
    assert "backoffice_deliveries" not in stored    # what the head (0004) adds
    done = cli("db", "upgrade", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert f"upgraded from schema revision {migrate.revisions()[-2]} to {HEAD}" in done.stdout
    upgraded = contents(data)
    assert upgraded["revision"] == [(HEAD,)] and upgraded["backoffice_deliveries"] == []
    assert {k: v for k, v in upgraded.items() if k in stored and k not in ("revision", "indexes")} == \
           {k: v for k, v in stored.items() if k not in ("revision", "indexes")}     # every row kept
    again = cli("db", "upgrade", "--data-dir", str(data))
    assert again.returncode == 0 and f"already at schema revision {HEAD}" in again.stdout
    # Served by a real office file (no automatic upgrade there): it starts, and the day is back.
    server = ServerProcess(data, args=("--config", str(DEMO_OFFICE), "--rehearsal"))
    try:
        server.start()
        assert any(f"(schema revision {HEAD})" in line for line in server.lines)
        asyncio.run(shows_the_day(server, day))
    finally:
        server.stop()


def test_a_database_from_before_alembic_is_recognised_and_the_demo_just_works(tmp_path: Path) -> None:
    data = tmp_path / "data"
    day = at_previous_revision(data, legacy=True)
    assert contents(data)["revision"] == "none"
    server = ServerProcess(data)
    try:
        server.start()          # ./dev serve: the demo office upgrades by itself
        assert "madoguchi: database upgraded from schema revision 0001 (made before migrations) " \
               f"to {HEAD} (the newest)" in server.lines
        asyncio.run(shows_the_day(server, day))
    finally:
        server.stop()
    assert contents(data)["revision"] == [(HEAD,)]


# --------------------------------------------------------------------------- refusing

@pytest.mark.parametrize("how", [
    ("--config", str(DEMO_OFFICE)),                 # a real office: no automatic upgrade by default
    ("--no-auto-upgrade",),                         # the demo, told not to
])
def test_serve_refuses_an_out_of_date_database_and_changes_nothing(tmp_path: Path, how: tuple[str, ...]) -> None:
    data = tmp_path / "data"
    at_previous_revision(data)
    before = contents(data)
    done = cli("serve", "--port", "0", "--data-dir", str(data), *how)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"schema revision {migrate.revisions()[-2]}" in done.stderr and f"needs {HEAD}" in done.stderr
    assert "`madoguchi db upgrade`" in done.stderr and "Traceback" not in done.stderr
    assert "listening" not in done.stdout
    assert contents(data) == before
    # The same refusal from the app itself (uvicorn --factory): it does not start.
    env = {**os.environ, "MADOGUCHI_DATA_DIR": str(data), "MADOGUCHI_AUTO_UPGRADE": "false"}
    done = subprocess.run([sys.executable, "-m", "uvicorn", "--factory", "server.app:app_from_env", "--port", "0"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0 and "madoguchi db upgrade" in done.stdout + done.stderr
    assert contents(data) == before


def test_the_auto_upgrade_setting_upgrades_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    day = at_previous_revision(data)
    stored = contents(data)
    server = ServerProcess(data, env={"MADOGUCHI_AUTO_UPGRADE": "true"},
                           args=("--config", str(DEMO_OFFICE), "--rehearsal"))
    try:
        server.start()
        assert f"madoguchi: database upgraded from schema revision {migrate.revisions()[-2]} to {HEAD} (the newest)" \
            in server.lines
        asyncio.run(shows_the_day(server, day))
    finally:
        server.stop()
    upgraded = contents(data)
    assert upgraded["revision"] == [(HEAD,)] and upgraded["backoffice_deliveries"] == []
    assert upgraded["events"][:len(stored["events"])] == stored["events"]


def _stamp_unknown(data: Path) -> None:
    asyncio.run(migrate.prepare(sqlite_url(data), upgrade=False))
    db = sqlite3.connect(data / "madoguchi.sqlite3")
    db.execute("UPDATE alembic_version SET version_num = '9999'")
    db.commit()
    db.close()


def _foreign(data: Path) -> None:
    db = sqlite3.connect(data / "madoguchi.sqlite3")
    db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)")
    db.execute("INSERT INTO invoices VALUES (1, 500)")
    db.commit()
    db.close()


@pytest.mark.parametrize("make, message", [
    (_stamp_unknown, "schema revision 9999, which this madoguchi does not know"),
    (_foreign, "tables madoguchi did not make (invoices)"),
])
def test_a_database_it_must_not_touch_is_refused_by_serve_and_upgrade(tmp_path: Path, make: Any, message: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    make(data)
    before = contents(data)
    for args in (("serve", "--port", "0", "--auto-upgrade"), ("db", "upgrade")):
        done = cli(*args, "--data-dir", str(data))
        assert done.returncode == 2, done.stdout + done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr
        assert contents(data) == before


def test_an_unreachable_database_is_a_runtime_failure_with_a_message(tmp_path: Path) -> None:
    done = cli("db", "upgrade", "--db", f"sqlite+aiosqlite:///{tmp_path}/no/such/folder/x.sqlite3")
    assert done.returncode == 1 and "cannot open the database" in done.stderr, done.stderr
    assert "no such folder for the database" in done.stderr and "Traceback" not in done.stderr


# --------------------------------------------------------------------------- PostgreSQL

@pytest.fixture
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback (as ``nobody`` when run as root, which
    PostgreSQL refuses); its asyncpg URL. Debian's ``postgresql`` package (which ``./dev test``
    installs) keeps its programs in /usr/lib/postgresql/<version>/bin, off the PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    bindir = found[-1].parent if found else None
    initdb = str(bindir / "initdb") if bindir else shutil.which("initdb")
    pg_ctl = str(bindir / "pg_ctl") if bindir else shutil.which("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.fail("PostgreSQL server programs (initdb, pg_ctl) are not installed "
                    "(./dev test installs Debian's postgresql)")
    run_as = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if os.getuid() == 0 else []
    with tempfile.TemporaryDirectory(prefix="madoguchi-pg-") as top:   # pytest's own folders are owner-only
        os.chmod(top, 0o755)
        cluster = Path(top) / "pg"
        cluster.mkdir()
        if run_as:
            shutil.chown(cluster, "nobody", "nogroup")
        yield from _cluster(run_as, initdb, pg_ctl, cluster)


def _cluster(run_as: list[str], initdb: str, pg_ctl: str, cluster: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*run_as, initdb, "-D", str(cluster), "-A", "trust", "-U", "madoguchi", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*run_as, pg_ctl, "-D", str(cluster), "-w", "-l", str(cluster / "log"), "-o",
                    f"-p {port} -k {cluster} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql+asyncpg://madoguchi@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(cluster), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)


def test_the_migrations_run_on_postgresql(postgres: str) -> None:
    assert asyncio.run(migrate.migrate(postgres, "0001")).current == "0001"
    write_day(postgres)
    done = cli("serve", "--port", "0", "--db", postgres, "--no-auto-upgrade")
    assert done.returncode == 2 and "`madoguchi db upgrade`" in done.stderr
    done = cli("db", "upgrade", "--db", postgres)
    assert done.returncode == 0 and f"to {HEAD}" in done.stdout, done.stderr

    async def compare() -> list[Any]:
        engine = create_async_engine(postgres)
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda sync: list(compare_metadata(MigrationContext.configure(sync),
                                                                           schema.metadata)))
        await engine.dispose()
        return found

    assert asyncio.run(compare()) == []
    assert asyncio.run(migrate.migrate(postgres, "base")).empty
