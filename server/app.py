"""The ASGI app factory: ``create_app(settings) -> Starlette`` (STYLE.md 11).

The lifespan opens the database, rebuilds today's floor, starts the writer and
closes everything on shutdown. Run with ``uvicorn --factory server.app:app_from_env``
or ``madoguchi serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from online_forms import backoffice_api, citizen_api, staff_api  # noqa: F401  (they register their routes)
from online_forms.store import FormStore
from stats.nightly import nightly_loop

from . import config, pages, passwords
from .admission import Admission
from .api import accounts, counters, index, printers, state, stats, tickets  # noqa: F401  (they register their routes)
from .api.openapi import document
from .api.registry import SPECS, JSONResponse, api_routes, error_response
from .auth import Auth, RateLimits
from .core.calendar import OfficeCalendar
from .core.layout import Layout
from .csrf import CsrfGuard
from .errors import ApiError, status_error
from .hub import Hub
from .printing import PrintService
from .processor import Processor, offset_clock, utcnow
from .settings import Settings
from .storage.database import EventLog, make_engine, open_database, sqlite_path
from .storage.lock import hold_all
from .storage.turns import WriteTurns
from .ws import websocket_endpoint

log = logging.getLogger("madoguchi")
#: Display name of the first admin account, made at first start.
ADMIN_NAME = "管理者 Administrator"
#: Connections the online applications keep (and as many more at a peak) on an engine of their own.
FORMS_POOL = 4

@dataclass
class Services:
    """Everything the handlers need, made in the lifespan."""

    settings: Settings
    layout: Layout
    calendar: OfficeCalendar
    engine: AsyncEngine
    processor: Processor
    hub: Hub
    auth: Auth
    limits: RateLimits
    public_url: str
    clock: Callable[[], datetime]
    bootstrap: dict[str, Any]
    printing: PrintService
    stats: config.StatsModel
    forms: FormStore


async def purge_loop(forms: FormStore, every_s: float = 3600) -> None:
    """Delete expired drafts and their files now and every ``every_s`` seconds."""
    while True:
        try:
            gone = await forms.purge_expired()
            if gone:
                log.info("deleted %d expired application drafts", gone)
        except Exception:
            log.exception("purging expired application drafts failed; trying again later")
        await asyncio.sleep(every_s)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own errors (no route 404, wrong method 405 with its Allow header, …) in the envelope.
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if "Allow" in headers:  # Starlette joins a set: name the methods in one order, as the API's own routes do
        headers["Allow"] = ", ".join(sorted(m.strip() for m in headers["Allow"].split(",")))
    return error_response(status_error(exc.status_code), headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(ApiError("internal_error", "something went wrong on the server; it has been logged"))


def load_office(settings: Settings) -> config.Office:
    """The office from ``settings.config`` or the demo office, parsed once.

    Rehearsal mode (calendar not enforced) defaults to on for the demo office only.
    Raises :class:`server.config.ConfigError`.
    """
    rehearsal = settings.rehearsal if settings.rehearsal is not None else settings.config is None
    return config.load_office(office_path(settings), rehearsal=rehearsal)


def upgrades_at_start(settings: Settings) -> bool:
    """Whether the server upgrades an out-of-date schema itself (``MADOGUCHI_AUTO_UPGRADE``;
    default on for the demo office only, as rehearsal mode)."""
    return settings.auto_upgrade if settings.auto_upgrade is not None else settings.config is None


def office_path(settings: Settings) -> Path:
    """The office file in use: ``settings.config`` or the demo office."""
    return settings.config or config.DEMO_OFFICE


def create_app(settings: Settings, *, clock: Callable[[], datetime] = utcnow,
               on_ready: Callable[[Services], Any] | None = None) -> Starlette:
    """Build the app. ``on_ready(services)`` runs once the lifespan has started
    (the CLI uses it to print URLs and demo credentials).

    ``settings.door`` ``apply`` builds the citizens' door alone (issue 14, point 6):
    only ``/apply/`` (pages and API) and ``/api/health``; no staff route, no
    WebSocket, no floor. It shares the database with the main server (which must
    run too: it owns the floor and the data directory's lock) and the data
    directory's ``attachments/`` folder (the same host, or a shared folder when it
    runs on a host of its own)."""
    citizens_only = settings.door == "apply"
    office = load_office(settings)
    if settings.clock_offset_file is not None and clock is utcnow:
        clock = offset_clock(settings.clock_offset_file)
    layout, calendar, printing_setup, stats_setup = office.layout, office.calendar, office.printing, office.stats
    office_words = passwords.office_words(layout.office_id, layout.office_name.ja, layout.office_name.en)
    if settings.admin_password is not None:
        try:
            passwords.check(settings.admin_password, ("admin", ADMIN_NAME, *office_words))
        except passwords.PasswordRejected as err:
            raise config.ConfigError(f"MADOGUCHI_ADMIN_PASSWORD: {err}") from None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pages.warn_without_ticket_font(settings.ticket_fonts())
        # One server per data directory (re-entrant: `madoguchi serve` holds it already); the citizens'
        # door writes no floor, so it runs beside the server that holds it.
        locks = [] if citizens_only else hold_all(settings.data_dir, sqlite_path(settings.database_url()))
        # Refuses (SchemaOutOfDate, naming `madoguchi db upgrade`) unless allowed to upgrade.
        engine = await open_database(settings.database_url(), synchronous=settings.sqlite_synchronous,
                                     upgrade=upgrades_at_start(settings) and not citizens_only)
        hub = Hub(history=settings.ws_history, counter_queues={cid: c.queues for cid, c in layout.counters.items()})
        # One write transaction at a time, the floor's events first (server/storage/turns.py).
        turns = WriteTurns()
        processor = Processor(layout, calendar, EventLog(engine, turns), hub, clock)
        if not citizens_only:
            await processor.start()
        auth = Auth(engine, settings.session_ttl_s, settings.pairing_ttl_s, office_words)

        def staffed(counter: str, staff: str) -> bool:
            return processor.current_floor().staffed_by(counter, staff)

        async def release_counters(day: date) -> object:
            return await auth.release_counters(staffed, f"business day {day.isoformat()} closed")

        # Clerks are signed out of counters the day's close closed (issue 13, point 3),
        # also those closed while the server was down.
        processor.on_day_closed.append(release_counters)
        if not citizens_only:
            await auth.release_counters(staffed, "not open on the floor at server start")
        bootstrap: dict[str, Any] = {}
        if not citizens_only and not await auth.has_admin():
            password = settings.admin_password or passwords.generate()
            await auth.create_staff("admin", password, "admin", ADMIN_NAME)
            bootstrap["admin_password"] = password if settings.admin_password is None else None
        public_url = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
        fonts = settings.ticket_fonts()
        printing = PrintService(engine, printing_setup, processor, hub, public_url, clock, fonts=fonts)
        hub.printers = printing
        if not citizens_only:
            await printing.start()
        limits = RateLimits(settings.public_rate, settings.login_rate, settings.login_rate_address,
                            settings.login_rate_user, settings.apply_rate, settings.apply_start_rate)
        # The online applications' own connections: citizens' traffic never waits for, nor holds,
        # the ones the floor's commands are stored through (issue 14, point 6; bench/forms_load.py).
        forms_engine = make_engine(settings.database_url(), synchronous=settings.sqlite_synchronous,
                                   pool_size=FORMS_POOL, max_overflow=FORMS_POOL, pool_timeout=120)
        forms = FormStore(forms_engine, settings.data_dir, clock, settings.apply_draft_ttl_s, turns)
        if settings.config is None and not citizens_only:  # the demo office: procedures from real city forms
            await forms.seed_demo()
        purging = asyncio.create_task(purge_loop(forms), name="forms-purge")
        # Views read the processor's moment: never earlier than the newest event (issue 13).
        services = Services(settings, layout, calendar, engine, processor, hub, auth, limits, public_url, processor.now,
                            bootstrap, printing, stats_setup, forms)
        nightly = None
        if stats_setup.nightly_dir and not citizens_only:
            command = [sys.executable, "-m", "server.cli", "stats-nightly", "--dir", stats_setup.nightly_dir,
                       "--config", str(office_path(settings)), "--db", settings.database_url(),
                       "--data-dir", str(settings.data_dir)]
            nightly = asyncio.create_task(nightly_loop(command, stats_setup.nightly_at, clock), name="stats-nightly")
        app.state.services = services
        if on_ready is not None:
            await on_ready(services)
        # Everything loaded so far lives as long as the server: keep it out of the
        # cyclic collector's scans, and make full (oldest-generation) collections
        # rare, so that one over a thousand connections' objects does not stall a
        # call on the floor (bench/push_latency.py at 1,000 subscribers: the
        # slowest call ~140-160 ms with the default thresholds, ~50-60 ms with these).
        gc.collect()
        gc.freeze()
        gc.set_threshold(700, 10, 1000)
        try:
            yield
        finally:
            purging.cancel()
            if nightly is not None:
                nightly.cancel()
            await printing.stop()
            await processor.stop()
            forms.close()
            await forms_engine.dispose()
            await engine.dispose()
            for lock in locks:
                lock.release()

    async def openapi(request: Request) -> Response:
        return JSONResponse(document())

    specs = [s for s in SPECS if s.path.startswith("/apply/") or s.path == "/api/health"] if citizens_only else SPECS
    routes: list[BaseRoute] = [*api_routes(specs)]
    if citizens_only:
        routes.append(Route("/", lambda request: RedirectResponse("/apply/"), methods=["GET"]))
        routes.extend(pages.apply_routes())
    else:
        routes.append(Route("/api/openapi.json", openapi, methods=["GET"]))
        routes.append(WebSocketRoute("/ws", websocket_endpoint))
        routes.extend(pages.routes())
    origins = [o for o in (settings.public_url, *settings.allowed_origins) if o]
    public = [spec.path for spec in specs if spec.access == "public"]
    middleware = [Middleware(pages.SecurityHeaders), Middleware(CsrfGuard, origins=origins, public=public)]
    # Citizens' requests take turns (at most apply_concurrency worked on at once): the floor's calls
    # never queue behind hundreds of them in the event loop (issue 14, point 6; bench/forms_load.py).
    middleware.insert(0, Middleware(Admission, prefix="/apply/api/", limit=settings.apply_concurrency,
                                    max_body=citizen_api.MAX_UPLOAD))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware,
                    exception_handlers={HTTPException: _http_error, Exception: _server_error})
    return app


def app_from_env() -> Starlette:
    """The app with settings from ``MADOGUCHI_*`` environment variables (for ``uvicorn --factory``)."""
    return create_app(Settings())
