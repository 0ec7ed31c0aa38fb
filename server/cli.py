"""The ``madoguchi`` command: ``serve``, ``replay`` and ``check-config``.

Exit codes: 0 success, 1 runtime failure (e.g. server unreachable), 2 bad
arguments or configuration.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stats import cli as stats_cli
from stats import nightly as stats_nightly

from . import agent, config

#: Seconds an idle HTTP keep-alive connection stays open. Longer than clients keep an idle
#: connection for reuse (httpx, used by the replay, the printer agent and the tests: 5 s), so a
#: client never sends a request on a connection the server is closing at that moment: with
#: uvicorn's default of 5 s, both sides timed out together and about one request in sixty after
#: a 5 s pause failed with "Server disconnected without sending a response". nginx's default.
KEEP_ALIVE_S = 75


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import Services, create_app
    from .settings import Settings

    overrides: dict[str, Any] = {k: v for k, v in {
        "config": args.config, "db_url": args.db, "host": args.host, "port": args.port,
        "data_dir": args.data_dir, "rehearsal": args.rehearsal,
    }.items() if v is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        print(f"madoguchi: error: setting {'.'.join(map(str, first['loc']))}: {first['msg']}", file=sys.stderr)
        return 2
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
    demo = settings.config is None

    async def on_ready(services: Services) -> None:
        base = services.public_url
        ws = base.replace("http", "ws", 1)
        enforced = services.calendar.enforce
        mode = "calendar enforced" if enforced else "rehearsal mode: the opening calendar is not enforced"
        lines = [
            f"madoguchi: listening on http://{settings.host}:{settings.port}",
            f"office: {services.layout.office_name.ja} ({'demo office, ' if demo else ''}{mode})",
            f"database: {settings.database_url() if settings.db_url is None else settings.db_url.split('@')[-1]}",
            f"  API             {base}/api/",
            f"  OpenAPI         {base}/api/openapi.json",
            f"  WebSocket       {ws}/ws",
            f"  Counter terminal {base}/counter/  (staff sign-in)",
            f"  Guidance display {base}/displays/guidance.html",
            f"  Counter display  {base}/displays/counter.html?counter=1",
            f"  Phone page      {base}/t/<ticket token>  (the QR on each ticket)",
            f"  Public status   {base}/status  (JSON: {base}/api/state)",
        ]
        password = services.bootstrap.get("admin_password")
        if password:
            lines.append(f"  Admin sign-in   user 'admin', password '{password}' (generated now; change it)")
        if demo:
            kiosk = await services.auth.rekey_device("demo-kiosk", "kiosk")
            display = await services.auth.rekey_device("demo-display", "display")
            menus = list(services.layout.kiosk_menus) or [""]
            for menu in menus:
                query = f"?menu={menu}" if menu else ""
                lines.append(f"  Kiosk           {base}/kiosk/{query}#token={kiosk}")
            lines.append(f"  Staff display   {base}/displays/staff.html#token={display}")
            lines.append(f"  Demo kiosk      paired; bearer token {kiosk}")
            lines.append(f"  Demo display    paired; bearer token {display}")
        print("\n".join(lines), flush=True)

    try:
        app = create_app(settings, on_ready=on_ready)
    except config.ConfigError as exc:
        print(f"madoguchi: error: {exc}", file=sys.stderr)
        return 2
    server = uvicorn.Server(uvicorn.Config(
        app, log_level=args.log_level, server_header=False, ws_max_size=1 << 20, ws_ping_interval=20,
        # Compression would run zlib once per client per message; events are small and serialised once.
        ws_per_message_deflate=False,
        lifespan="on", access_log=False, timeout_graceful_shutdown=3,
        timeout_keep_alive=KEEP_ALIVE_S,
    ))
    server.run(sockets=[sock])  # uvicorn picks the event loop (uvloop when installed)
    return 0 if server.started else 1


def _check(args: argparse.Namespace) -> int:
    try:
        office = config.load_office(args.file)
    except config.ConfigError as exc:
        print(f"madoguchi: error: {exc}", file=sys.stderr)
        return 2
    layout = office.layout
    print(f"ok: {layout.office_name.ja}: {len(layout.queues)} queues, {len(layout.counters)} counters, "
          f"{len(office.printing.printers)} printers")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from .replay.driver import run_replay

    return run_replay(args)


def parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the docs test)."""
    p = argparse.ArgumentParser(prog="madoguchi", description="Citizen-services floor: tickets, counters, displays.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the server (default: demo office on SQLite under ./data)")
    s.add_argument("--config", type=Path, help="office TOML file (default: built-in demo office)")
    s.add_argument("--db", help="SQLAlchemy async database URL (default: SQLite in the data directory)")
    s.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default 8000; 0 = any free port)")
    s.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    s.add_argument("--rehearsal", action=argparse.BooleanOptionalAction, default=None,
                   help="ignore the opening calendar (default: on for the demo office)")
    s.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    s.set_defaults(func=_serve)
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
    stats_cli.add_parser(sub)
    stats_nightly.add_parser(sub)
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
