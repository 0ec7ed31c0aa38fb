"""The ``madoguchi`` command: ``serve``, ``db upgrade``, ``admin reset-password``,
``replay``, ``check-config`` (and the printer agent's and statistics' commands).

Exit codes: 0 success, 1 runtime failure (e.g. server or database unreachable),
2 bad arguments or configuration (including a database that needs
``madoguchi db upgrade``, or an unknown user), 3 the data directory or the
database cannot be written (read-only or full disk, permissions, a file where
the folder should be), 4 another server holds the data directory's lock.
Each refusal is one line on stderr naming the path and the cause.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hardware.ticket import TicketFonts
from stats import cli as stats_cli
from stats import nightly as stats_nightly

from . import agent, config
from .settings import Settings
from .storage import migrate
from .storage.lock import DirLock, StorageLocked, StorageUnusable, hold_all

if TYPE_CHECKING:
    from .auth import Auth

#: Where the demo keeps its kiosk's and display's tokens, so that the links it
#: prints stay valid across restarts of the same data directory (owner-only file).
DEMO_TOKENS = "demo-devices.json"
DEMO_DEVICES = (("demo-kiosk", "kiosk"), ("demo-display", "display"))


def _settings(overrides: dict[str, Any]) -> Settings | None:
    """Settings from the environment and the given flags; ``None`` (after saying why) when invalid."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        print(f"madoguchi: error: setting {'.'.join(map(str, first['loc']))}: {first['msg']}", file=sys.stderr)
        return None


def _shown_url(settings: Settings) -> str:
    """The database URL without credentials (for messages)."""
    return settings.database_url() if settings.db_url is None else settings.db_url.split("@")[-1]


Prepared = tuple[int, migrate.SchemaState | None, migrate.SchemaState | None]

#: Exit codes of refusals about storage (see the module doc and ``madoguchi serve --help``).
EXIT_STORAGE = 3
EXIT_LOCKED = 4
SERVE_EPILOG = ("exit codes: 0 stopped, 1 runtime failure, 2 bad arguments, configuration or a database that "
                "needs `madoguchi db upgrade`, 3 the data directory or the database cannot be written "
                "(read-only or full disk, permissions), 4 another server holds the data directory's lock "
                "(<data dir>/madoguchi.lock); each refusal is one line naming the path and the cause")


def _storage_refusal(settings: Settings, exc: BaseException) -> int | None:
    """Say on one line why a SQLite database cannot be used and return exit 3, or ``None``
    when ``exc`` is no storage problem (or the database is not a SQLite file)."""
    from .storage.database import sqlite_path, storage_cause

    path = sqlite_path(settings.database_url())
    cause = storage_cause(exc)
    if path is None or cause is None:
        return None
    print(f"madoguchi: error: cannot write the database {path}: {cause}", file=sys.stderr)
    return EXIT_STORAGE


def _prepare_database(settings: Settings, *, upgrade: bool) -> Prepared:
    """Create, check or upgrade the schema: ``(exit code, before, after)``; exit 0 when ready,
    2 when it needs an upgrade or is not madoguchi's, 3 when a SQLite file cannot be written,
    1 when unreachable (each said on stderr in one line)."""
    try:
        if settings.db_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        before, after = migrate.prepare_sync(settings.database_url(), upgrade=upgrade)
    except migrate.SchemaError as exc:
        print(f"madoguchi: error: database {_shown_url(settings)}: {exc}", file=sys.stderr)
        return 2, None, None
    except (SQLAlchemyError, OSError) as exc:
        refused = _storage_refusal(settings, exc)
        if refused is not None:
            return refused, None, None
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"madoguchi: error: cannot open the database {_shown_url(settings)}: {first_line}", file=sys.stderr)
        return 1, None, None
    return 0, before, after


def _claim_storage(settings: Settings) -> tuple[int, list[DirLock]]:
    """Lock the data directory (and a SQLite file kept elsewhere) for this process's life:
    ``(0, locks)``, or ``(3 or 4, [])`` after saying why in one line (issue 13, points 9 and 12)."""
    from .storage.database import sqlite_path

    try:
        return 0, hold_all(settings.data_dir, sqlite_path(settings.database_url()))
    except StorageLocked as exc:
        print(f"madoguchi: error: {exc}", file=sys.stderr)
        return EXIT_LOCKED, []
    except StorageUnusable as exc:
        print(f"madoguchi: error: cannot use the data directory: {exc}", file=sys.stderr)
        return EXIT_STORAGE, []


def _probe_database(settings: Settings) -> int:
    """Write-test a SQLite database as the server opens it (WAL): 0, or 3 after saying why."""
    import sqlite3

    from .storage.database import probe_sqlite, sqlite_path

    path = sqlite_path(settings.database_url())
    if path is None:
        return 0
    try:
        probe_sqlite(path, settings.sqlite_synchronous)
    except (sqlite3.Error, OSError) as exc:
        refused = _storage_refusal(settings, exc)
        if refused is None:
            print(f"madoguchi: error: cannot write the database {path}: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    return 0


def _describe(before: migrate.SchemaState, after: migrate.SchemaState) -> str:
    if before.empty:
        return f"created at schema revision {after.current} (the newest)"
    if before.up_to_date:
        return f"already at schema revision {after.current} (the newest)"
    legacy = " (made before migrations)" if before.legacy else ""
    return f"upgraded from schema revision {before.current}{legacy} to {after.current} (the newest)"

#: Seconds an idle HTTP keep-alive connection stays open. Longer than clients keep an idle
#: connection for reuse (httpx, used by the replay, the printer agent and the tests: 5 s), so a
#: client never sends a request on a connection the server is closing at that moment: with
#: uvicorn's default of 5 s, both sides timed out together and about one request in sixty after
#: a 5 s pause failed with "Server disconnected without sending a response". nginx's default.
KEEP_ALIVE_S = 75


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import Services, create_app, upgrades_at_start
    from .protocol import Http11
    from .ws import TransportProtocol

    settings = _settings({
        "config": args.config, "db_url": args.db, "host": args.host, "port": args.port,
        "data_dir": args.data_dir, "rehearsal": args.rehearsal, "auto_upgrade": args.auto_upgrade,
        "door": args.door,
    })
    if settings is None:
        return 2
    demo = settings.config is None

    async def on_ready(services: Services) -> None:
        base = services.public_url
        if settings.door == "apply":
            print("\n".join([
                f"madoguchi: listening on http://{settings.host}:{settings.port} (the citizens' side only)",
                f"database: {_shown_url(settings)} (schema revision {revision})",
                f"  Online applications {base}/apply/",
            ]), flush=True)
            return
        ws = base.replace("http", "ws", 1)
        enforced = services.calendar.enforce
        mode = "calendar enforced" if enforced else "rehearsal mode: the opening calendar is not enforced"
        lines = [
            f"madoguchi: listening on http://{settings.host}:{settings.port}",
            f"office: {services.layout.office_name.ja} ({'demo office, ' if demo else ''}{mode})",
            f"database: {_shown_url(settings)} (schema revision {revision})",
            f"  API index       {base}/api/",
            f"  OpenAPI         {base}/api/openapi.json",
            f"  WebSocket       {ws}/ws",
            f"  Counter terminal {base}/counter/  (staff sign-in)",
            f"  Statistics      {base}/counter/stats.html  (supervisors and admins)",
            f"  Online applications {base}/apply/  (citizens)",
            f"  Applications    {base}/counter/forms.html  (staff: process, enter paper ones)",
            f"  Form builder    {base}/counter/builder.html  (staff: procedures and forms)",
            f"  Guidance display {base}/displays/guidance.html",
            f"  Counter display  {base}/displays/counter.html?counter=1",
            f"  Phone page      {base}/t/<ticket token>  (the QR on each ticket)",
            f"  Public status   {base}/status   JSON: {base}/api/state",
        ]
        password = services.bootstrap.get("admin_password")
        if password:
            lines.append(f"  Admin sign-in   user 'admin', password '{password}' (generated now; change it)")
        else:
            lines.append("  Lost password   madoguchi admin reset-password USER  (same --data-dir/--db)")
        if demo:
            tokens = await _demo_tokens(services.auth, settings.data_dir / DEMO_TOKENS)
            kiosk, display = tokens["demo-kiosk"], tokens["demo-display"]
            menus = list(services.layout.kiosk_menus) or [""]
            for menu in menus:
                query = f"?menu={menu}" if menu else ""
                lines.append(f"  Kiosk           {base}/kiosk/{query}#token={kiosk}")
            lines.append(f"  Staff display   {base}/displays/staff.html#token={display}")
            lines.append("  Note            a procedure issues tickets once a counter serving it is open (until "
                         "then the kiosk says 準備中): sign in at the counter terminal and choose a counter")
            lines.append(f"  Demo kiosk      paired; bearer token {kiosk}")
            lines.append(f"  Demo display    paired; bearer token {display}")
        print("\n".join(lines), flush=True)

    try:
        app = create_app(settings, on_ready=on_ready)
    except config.ConfigError as exc:
        print(f"madoguchi: error: {exc}", file=sys.stderr)
        return 2
    # Held until the process ends (the kernel lets go even after kill -9): one server per data directory.
    # The citizens' door writes no floor: it runs beside the server holding the lock.
    code, _locks = _claim_storage(settings) if settings.door == "all" else (0, [])
    if code:
        return code
    # The lifespan checks again (for `uvicorn --factory`); here a refusal ends with a message, not a traceback.
    code, before, after = _prepare_database(settings, upgrade=upgrades_at_start(settings) and settings.door == "all")
    if code or before is None or after is None:
        return code
    code = _probe_database(settings)
    if code:
        return code
    if not before.empty and not before.up_to_date:
        print(f"madoguchi: database {_describe(before, after)}", flush=True)
    revision = after.current
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY: without it a response written in two
    # parts waits for the client's delayed ACK (about 40 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if settings.socket_send_buffer:
        # Accepted connections inherit it (Linux), bounding a stuck client's kernel buffer.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.socket_send_buffer)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        print(f"madoguchi: error: cannot listen on {settings.host}:{settings.port}: {exc.strerror}", file=sys.stderr)
        return 2
    settings.port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(
        app, log_level=args.log_level, server_header=False, ws_max_size=1 << 20, ws_ping_interval=20,
        # Compression would run zlib once per client per message; events are small and serialised once.
        ws_per_message_deflate=False,
        ws=TransportProtocol,  # lets the app reset a dropped client's connection (server/ws.py)
        lifespan="on", access_log=False, timeout_graceful_shutdown=3,
        timeout_keep_alive=KEEP_ALIVE_S,
        # h11 bounds the request head (httptools, uvicorn's default when installed, does not).
        http=Http11, h11_max_incomplete_event_size=settings.max_header_bytes,
    ))
    server.run(sockets=[sock])  # uvicorn picks the event loop (uvloop when installed)
    return 0 if server.started else 1


async def _demo_tokens(auth: Auth, path: Path) -> dict[str, str]:
    """The demo kiosk's and display's tokens: the ones saved in ``path`` while they still
    open their device, else fresh ones (re-keyed, saved owner-only). Tokens go only into
    the links' ``#token=`` fragment, which browsers never send to the server."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        saved = {}
    tokens: dict[str, str] = {}
    for name, kind in DEMO_DEVICES:
        token = saved.get(name) if isinstance(saved, dict) else None
        if isinstance(token, str):
            principal = await auth.resolve(token)
            if principal.kind == "device" and principal.name == name and principal.device_kind == kind:
                tokens[name] = token
                continue
        tokens[name] = await auth.rekey_device(name, kind)
    if tokens != saved:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(tokens, out)
            os.replace(temporary, path)
        except OSError as exc:
            print(f"madoguchi: warning: cannot keep the demo devices' tokens in {path} ({exc.strerror}); "
                  "the links below work until the next start", file=sys.stderr)
    return tokens


def _db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings({"db_url": args.db, "data_dir": args.data_dir})
    if settings is None:
        return 2
    code, before, after = _prepare_database(settings, upgrade=True)
    if code or before is None or after is None:
        return code
    print(f"database {_shown_url(settings)}: {_describe(before, after)}")
    return 0


class _UnknownUser(Exception):
    """``admin reset-password`` named no staff account (exit 2)."""


def _reset_password(args: argparse.Namespace) -> int:
    from .auth import Auth
    from .passwords import generate
    from .storage import schema
    from .storage.database import open_database, sqlite_path

    settings = _settings({"db_url": args.db, "data_dir": args.data_dir})
    if settings is None:
        return 2
    url = settings.database_url()
    path = sqlite_path(url)
    if path is not None and not Path(path).exists():
        print(f"madoguchi: error: no database at {path} (give the server's --data-dir or --db)", file=sys.stderr)
        return 2
    password = generate()
    try:
        actor = f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        actor = "cli"

    async def reset() -> bool:
        engine = await open_database(url, synchronous=settings.sqlite_synchronous, create=False)
        try:
            async with engine.connect() as conn:
                staff = schema.staff.c
                rows = (await conn.execute(select(staff.id, staff.username, staff.active))).all()
            match = [r for r in rows if r.username == args.user]
            if not match:
                raise _UnknownUser(", ".join(sorted(r.username for r in rows)) or "none")
            # The one path that changes passwords: ends the person's sessions, writes the audit row.
            auth = Auth(engine, settings.session_ttl_s, settings.pairing_ttl_s)
            await auth.set_password(match[0].id, password, actor[:64])
            return bool(match[0].active)
        finally:
            await engine.dispose()

    try:
        active = asyncio.run(reset())
    except _UnknownUser as exc:
        print(f"madoguchi: error: no staff account {args.user!r} (accounts: {exc})", file=sys.stderr)
        return 2
    except migrate.SchemaError as exc:
        print(f"madoguchi: error: database {_shown_url(settings)}: {exc}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as exc:
        print(f"madoguchi: error: cannot open the database {_shown_url(settings)}: {exc}", file=sys.stderr)
        return 1
    print(f"new password for {args.user!r}: {password}")
    print(f"(its sessions are ended; a server running now honours the ones it holds in memory until it restarts)"
          f"{'' if active else '; note: this account is deactivated'}")
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        office = config.load_office(args.file)
    except config.ConfigError as exc:
        print(f"madoguchi: error: {exc}", file=sys.stderr)
        return 2
    layout = office.layout
    try:
        fonts = Settings().ticket_fonts()
    except ValidationError:
        fonts = TicketFonts()  # a bad setting is reported by `serve`; check against the installed fonts
    for warning in config.ticket_warnings(office, fonts, args.file.name):
        print(f"madoguchi: warning: {warning}", file=sys.stderr)
    print(f"ok: {layout.office_name.ja}: {len(layout.queues)} queues, {len(layout.counters)} counters, "
          f"{len(office.printing.printers)} printers")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from .replay.driver import run_replay

    return run_replay(args)


def _stats_setup(office: Path | None, db: str | None, data_dir: Path | None) -> stats_cli.Setup:
    """What ``madoguchi stats`` and ``stats-nightly`` need, from the office file
    and settings (the statistics do not import the server). Raises
    ``ValueError`` for a bad office file."""
    from .settings import Settings

    overrides: dict[str, Any] = {k: v for k, v in (("db_url", db), ("data_dir", data_dir)) if v is not None}
    settings = Settings(**overrides)
    path = office or config.DEMO_OFFICE
    try:
        office_file = config.load_office(path, rehearsal=True)
    except config.ConfigError as err:
        raise ValueError(str(err)) from None
    target_s = office_file.stats.target_wait_s
    return stats_cli.Setup(office_file.layout, target_s, settings.database_url(), settings.data_dir)


def parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the docs test)."""
    p = argparse.ArgumentParser(prog="madoguchi", description="Citizen-services floor: tickets, counters, displays.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the server (default: demo office on SQLite under ./data)",
                       epilog=SERVE_EPILOG)
    s.add_argument("--config", type=Path, help="office TOML file (default: built-in demo office)")
    s.add_argument("--db", help="SQLAlchemy async database URL (default: SQLite in the data directory)")
    s.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default 8000; 0 = any free port)")
    s.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    s.add_argument("--rehearsal", action=argparse.BooleanOptionalAction, default=None,
                   help="ignore the opening calendar (default: on for the demo office)")
    s.add_argument("--auto-upgrade", action=argparse.BooleanOptionalAction, default=None,
                   help="upgrade an out-of-date database schema at start (default: on for the demo office)")
    s.add_argument("--door", choices=["all", "apply"],
                   help="all: everything (default); apply: only the citizens' side under /apply/, beside a "
                        "server running all on the same database (e.g. on an internet-facing host)")
    s.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    s.set_defaults(func=_serve)
    d = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    u = d.add_parser("upgrade", help="upgrade the database schema to this version's (stop the server, back up first)")
    u.add_argument("--db", help="SQLAlchemy async database URL (default: SQLite in the data directory)")
    u.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    u.set_defaults(func=_db_upgrade)
    a = sub.add_parser("admin", help="account administration on the server's machine").add_subparsers(
        dest="admin_command", required=True)
    rp = a.add_parser("reset-password", help="give a staff account a new generated password (printed; audited)")
    rp.add_argument("user", help="user name, e.g. admin")
    rp.add_argument("--db", help="SQLAlchemy async database URL (default: SQLite in the data directory)")
    rp.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    rp.set_defaults(func=_reset_password)
    r = sub.add_parser("replay", help="replay a business day against a running server through its public API")
    r.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8000")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--day", type=Path, help="CSV of a real day (Anonymous Bank call-centre format)")
    src.add_argument("--synthetic", action="store_true", help="generate a weekday from the FY2023 volumes")
    r.add_argument("--seed", type=int, default=1, help="random seed for --synthetic (default 1)")
    r.add_argument("--speed", type=float, default=60.0, help="how many times faster than real time (default 60)")
    r.add_argument("--until", metavar="HH:MM", help="replay the day only up to this time (a short day to try things)")
    r.add_argument("--admin-user", default="admin")
    r.add_argument("--admin-password", help="admin password (default: $MADOGUCHI_ADMIN_PASSWORD)")
    r.add_argument("--displays", type=int, default=3, help="WebSocket display clients to connect (default 3)")
    r.add_argument("--details", type=Path, help="also write one CSV row per ticket (estimate, naive, actual wait)")
    r.set_defaults(func=_replay)
    agent.add_parser(sub)
    stats_cli.add_parser(sub, _stats_setup)
    stats_nightly.add_parser(sub, _stats_setup)
    k = sub.add_parser("check-config", help="validate an office TOML file")
    k.add_argument("file", type=Path)
    k.set_defaults(func=_check)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``madoguchi`` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
