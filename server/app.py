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
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from stats.nightly import nightly_loop

from . import config, pages
from .api import accounts, counters, index, printers, state, stats, tickets  # noqa: F401  (they register their routes)
from .api.openapi import document
from .api.registry import SPECS, JSONResponse, error_response, route
from .auth import Auth, RateLimits
from .core.calendar import OfficeCalendar
from .core.layout import Layout
from .errors import ApiError
from .hub import Hub
from .printing import PrintService
from .processor import Processor, offset_clock, utcnow
from .settings import Settings
from .storage.database import EventLog, open_database
from .ws import websocket_endpoint

log = logging.getLogger("madoguchi")

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


async def _not_found(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException) and exc.status_code == 405:
        return error_response(ApiError("method_not_allowed", "this method is not allowed here"))
    return error_response(ApiError("not_found", "nothing here"))


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
    (the CLI uses it to print URLs and demo credentials)."""
    office = load_office(settings)
    if settings.clock_offset_file is not None and clock is utcnow:
        clock = offset_clock(settings.clock_offset_file)
    layout, calendar, printing_setup, stats_setup = office.layout, office.calendar, office.printing, office.stats

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pages.warn_without_ticket_font(settings.ticket_fonts())
        if settings.db_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Refuses (SchemaOutOfDate, naming `madoguchi db upgrade`) unless allowed to upgrade.
        engine = await open_database(settings.database_url(), synchronous=settings.sqlite_synchronous,
                                     upgrade=upgrades_at_start(settings))
        hub = Hub(history=settings.ws_history, counter_queues={cid: c.queues for cid, c in layout.counters.items()})
        processor = Processor(layout, calendar, EventLog(engine), hub, clock)
        await processor.start()
        auth = Auth(engine, settings.session_ttl_s, settings.pairing_ttl_s)
        bootstrap: dict[str, Any] = {}
        if not await auth.has_admin():
            from .auth import new_token
            password = settings.admin_password or new_token()[:16]
            await auth.create_staff("admin", password, "admin", "管理者 Administrator")
            bootstrap["admin_password"] = password if settings.admin_password is None else None
        public_url = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
        fonts = settings.ticket_fonts()
        printing = PrintService(engine, printing_setup, processor, hub, public_url, clock, fonts=fonts)
        hub.printers = printing
        await printing.start()
        limits = RateLimits(settings.public_rate, settings.login_rate, settings.login_rate_address)
        # Views read the processor's moment: never earlier than the newest event (issue 13).
        services = Services(settings, layout, calendar, engine, processor, hub, auth, limits, public_url, processor.now,
                            bootstrap, printing, stats_setup)
        nightly = None
        if stats_setup.nightly_dir:
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
            if nightly is not None:
                nightly.cancel()
            await printing.stop()
            await processor.stop()
            await engine.dispose()

    async def openapi(request: Request) -> Response:
        return JSONResponse(document())

    routes: list[BaseRoute] = [route(spec) for spec in SPECS]
    routes.append(Route("/api/openapi.json", openapi, methods=["GET"]))
    routes.append(WebSocketRoute("/ws", websocket_endpoint))
    routes.extend(pages.routes())
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(pages.SecurityHeaders)],
                    exception_handlers={404: _not_found, 405: _not_found, Exception: _server_error})
    return app


def app_from_env() -> Starlette:
    """The app with settings from ``MADOGUCHI_*`` environment variables (for ``uvicorn --factory``)."""
    return create_app(Settings())
